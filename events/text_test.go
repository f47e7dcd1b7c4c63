package events

import "testing"

func TestTidyAndVisible(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, tidy string
		visible  bool
	}{
		"plain":                       {"Mug", "Mug", true},
		"spaces around":               {"  Mug \t", "Mug", true},
		"zero-width spaces around":    {"\u200bMug\u200b", "Mug", true},
		"a combining accent composed": {"Cafe\u0301", "Caf\u00e9", true},
		"only zero-width spaces":      {"\u200b\u200b\u200b", "", false},
		"joiners and a BOM":           {"\u200d\ufeff", "", false},
		"only spaces":                 {"   ", "", false},
		"Hangul fillers":              {"\u3164\u3164\u3164", "\u3164\u3164\u3164", false},
		"blank braille":               {"\u2800", "\u2800", false},
		"a control character stays":   {"\x1b[31mred", "\x1b[31mred", true},
		"empty":                       {"", "", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Tidy(tt.in); got != tt.tidy {
				t.Errorf("Tidy(%q) = %q, want %q", tt.in, got, tt.tidy)
			}
			if got := Visible(Tidy(tt.in)); got != tt.visible {
				t.Errorf("Visible(Tidy(%q)) = %v, want %v", tt.in, got, tt.visible)
			}
		})
	}
}
