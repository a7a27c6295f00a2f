package store

import "time"

// CustomerTx stores a merchant's customers.
type CustomerTx interface {
	InsertCustomer(c *Customer) error
	GetCustomer(merchantID, id string) (*Customer, error)
	GetCustomerByReference(merchantID, reference string) (*Customer, error)
	MarkCustomerDeleted(merchantID, id string, at time.Time) error
	// ListCustomers lists live customers, newest first.
	ListCustomers(merchantID string, f CustomerFilter) ([]*Customer, bool, error)
}

// CustomerFilter selects a page of customers, newest first. Email matches
// the whole address, ignoring case; Reference the merchant's own id.
// When both are set a customer matching either is listed.
type CustomerFilter struct {
	Email         string
	Reference     string
	StartingAfter string
	Limit         int
}

// Customer is the merchant's customer; Reference is the merchant's own id.
type Customer struct {
	ID         string
	MerchantID string
	Reference  string
	Name       string
	Email      string
	Phone      string
	Metadata   map[string]string
	Created    time.Time
	Deleted    *time.Time
}
