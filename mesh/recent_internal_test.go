package mesh

import "testing"

func TestRecentKeepsWhatWasPutLately(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		put    []int
		kept   []int
		forgot []int
	}{
		"fewer than size":                {put: []int{1, 2, 3}, kept: []int{1, 2, 3}},
		"a full generation moves to old": {put: []int{1, 2, 3, 4, 5}, kept: []int{1, 2, 3, 4, 5}},
		"the old generation is dropped":  {put: []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, kept: []int{5, 6, 7, 8, 9}, forgot: []int{1, 2, 3, 4}},
		"a key put again is new again":   {put: []int{1, 2, 3, 4, 5, 1, 6, 7, 8}, kept: []int{1, 5, 6, 7, 8}, forgot: []int{2, 3, 4}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := newRecent[int, int](4)
			for _, k := range tt.put {
				r.put(k, k*10)
			}
			for _, k := range tt.kept {
				if v, ok := r.get(k); !ok || v != k*10 {
					t.Errorf("get(%d) = %d, %v; want %d", k, v, ok, k*10)
				}
			}
			for _, k := range tt.forgot {
				if _, ok := r.get(k); ok {
					t.Errorf("get(%d) found it; want it forgotten", k)
				}
			}
			if r.len() > 8 {
				t.Errorf("holds %d entries; want at most twice the size, 8", r.len())
			}
		})
	}
}

func TestRecentRemoves(t *testing.T) {
	t.Parallel()
	r := newRecent[string, int](2)
	r.put("a", 1)
	r.put("b", 2)
	r.put("c", 3) // a and b are now the older generation
	r.remove("a")
	r.remove("c")
	if _, ok := r.get("a"); ok {
		t.Error("a still there after remove")
	}
	if _, ok := r.get("c"); ok {
		t.Error("c still there after remove")
	}
	if v, ok := r.get("b"); !ok || v != 2 {
		t.Errorf("b = %d, %v; want 2", v, ok)
	}
}
