package domain

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/shopmesh/shopmesh/events"
)

// Limits on a product's fields.
const (
	MaxSKU         = 64
	MaxName        = 200
	MaxDescription = 4000
	// MaxPrice keeps totals far from int64 overflow: 10 billion in major units.
	MaxPrice = 1_000_000_000_000
)

// FieldError says which field is wrong and why.
type FieldError struct {
	Field   string
	Message string
}

// Error names the field and what is wrong with it.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Tidy is the draft as the catalog keeps it: its name and description in
// composed form (NFC), without the spaces and invisible characters around
// them (events.Tidy). The sku is checked as given: it may hold no space.
func Tidy(d Draft) Draft {
	d.Name, d.Description = events.Tidy(d.Name), events.Tidy(d.Description)
	return d
}

// Validate checks a draft against the catalog's rules.
func Validate(d Draft) error {
	switch {
	case d.SKU == "" || len(d.SKU) > MaxSKU || !skuPattern.MatchString(d.SKU):
		return &FieldError{"sku", fmt.Sprintf("must be 1-%d letters, digits, '.', '_' or '-'", MaxSKU)}
	case !events.Visible(d.Name) || utf8.RuneCountInString(d.Name) > MaxName:
		return &FieldError{"name", fmt.Sprintf("must be 1-%d characters, at least one of them visible", MaxName)}
	case !events.PlainText(d.Name, false):
		return &FieldError{"name", "must be valid UTF-8 text on one line, without control characters"}
	case utf8.RuneCountInString(d.Description) > MaxDescription:
		return &FieldError{"description", fmt.Sprintf("must be at most %d characters", MaxDescription)}
	case !events.PlainText(d.Description, true):
		return &FieldError{"description", "must be valid UTF-8 text without control characters other than line breaks and tabs"}
	case d.Price.Amount < 0 || d.Price.Amount > MaxPrice:
		return &FieldError{"price.amount", fmt.Sprintf("must be between 0 and %d minor units", MaxPrice)}
	case !IsCurrency(d.Price.Currency):
		return &FieldError{"price.currency", "must be an ISO 4217 currency code such as EUR or USD"}
	}
	return nil
}

// currencies are the active ISO 4217 codes.
var currencies = strings.Fields(`AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND
BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG`)

// IsCurrency reports whether code is an active ISO 4217 currency code.
func IsCurrency(code string) bool {
	for _, c := range currencies {
		if c == code {
			return true
		}
	}
	return false
}
