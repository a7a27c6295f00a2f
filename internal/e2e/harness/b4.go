package harness

// SetFail sets how many deliveries the receiver answers 500 before it
// accepts any, safely while deliveries arrive (Fail is for before they do).
func (rv *Receiver) SetFail(n int) {
	rv.mu.Lock()
	rv.Fail = n
	rv.mu.Unlock()
}

// Secret is the secret deliveries are verified with (set by Register or
// SetSecret), e.g. to compare with a rotated one.
func (rv *Receiver) Secret() string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.secret
}
