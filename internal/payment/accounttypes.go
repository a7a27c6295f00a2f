package payment

import "slices"

// AccountType is a processor account type a merchant may create and the
// credentials it takes.
type AccountType struct {
	Type        string
	Credentials []string // none for the simulator
}

// AccountTypes lists the account types CreateProcessorAccount takes, by
// type, each with its connector's credential names: a form without script
// (the dashboard's) must show every type's fields up front.
func (s *Acquirers) AccountTypes() []AccountType {
	out := make([]AccountType, 0, len(s.connectors)+1)
	for _, t := range s.types() {
		out = append(out, AccountType{Type: t, Credentials: slices.Clone(s.connectors[t].Credentials)})
	}
	return out
}
