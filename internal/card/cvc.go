package card

// ValidateCVC checks the form of a card verification code: 4 digits for Amex
// (its CID), 3 for every other brand. Messages never echo the value.
func ValidateCVC(cvc string, b Brand) error {
	want, msg := 3, "must be 3 digits"
	if b == Amex {
		want, msg = 4, "must be 4 digits for amex"
	}
	if cvc == "" {
		return &FieldError{Field: "cvc", Code: CodeInvalidCVC, Message: "is required"}
	}
	for i := 0; i < len(cvc); i++ {
		if !isDigit(cvc[i]) {
			return &FieldError{Field: "cvc", Code: CodeInvalidCVC, Message: "must contain only digits"}
		}
	}
	if len(cvc) != want {
		return &FieldError{Field: "cvc", Code: CodeInvalidCVC, Message: msg}
	}
	return nil
}
