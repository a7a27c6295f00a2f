package store

import "time"

// CustomerTx stores a merchant's customers.
type CustomerTx interface {
	InsertCustomer(c *Customer) error
	GetCustomer(merchantID, id string) (*Customer, error)
	GetCustomerByReference(merchantID, reference string) (*Customer, error)
	MarkCustomerDeleted(merchantID, id string, at time.Time) error
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
