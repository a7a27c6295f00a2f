package authorizenet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The request types below follow AnetApiSchema.xsd element for element and in
// its order: Authorize.net turns a JSON request into XML and validates it
// against the schema, so a field out of sequence is refused (E00003) however
// right its value. encoding/json writes struct fields in declaration order,
// which is why the field order here matters and must not be "tidied".

type merchantAuthentication struct {
	Name           string `json:"name"`
	TransactionKey string `json:"transactionKey"`
}

type createTransactionRequest struct {
	MerchantAuthentication merchantAuthentication `json:"merchantAuthentication"`
	RefID                  string                 `json:"refId,omitempty"`
	TransactionRequest     transactionRequest     `json:"transactionRequest"`
}

type transactionRequest struct {
	TransactionType     string          `json:"transactionType"`
	Amount              string          `json:"amount,omitempty"`
	CurrencyCode        string          `json:"currencyCode,omitempty"`
	Payment             *payment        `json:"payment,omitempty"`
	Profile             *profilePayment `json:"profile,omitempty"`
	RefTransID          string          `json:"refTransId,omitempty"`
	Order               *order          `json:"order,omitempty"`
	BillTo              *billTo         `json:"billTo,omitempty"`
	TransactionSettings *settings       `json:"transactionSettings,omitempty"`
}

type payment struct {
	CreditCard creditCard `json:"creditCard"`
}

type creditCard struct {
	CardNumber     string `json:"cardNumber"`
	ExpirationDate string `json:"expirationDate"`
	CardCode       string `json:"cardCode,omitempty"`
}

type profilePayment struct {
	CustomerProfileID string          `json:"customerProfileId"`
	PaymentProfile    paymentProfileR `json:"paymentProfile"`
}

type paymentProfileR struct {
	PaymentProfileID string `json:"paymentProfileId"`
}

type order struct {
	InvoiceNumber string `json:"invoiceNumber,omitempty"`
	Description   string `json:"description,omitempty"`
}

type billTo struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Address   string `json:"address,omitempty"`
	Zip       string `json:"zip,omitempty"`
	Country   string `json:"country,omitempty"`
}

type settings struct {
	Setting setting `json:"setting"`
}

type setting struct {
	SettingName  string `json:"settingName"`
	SettingValue string `json:"settingValue"`
}

type getTransactionDetailsRequest struct {
	MerchantAuthentication merchantAuthentication `json:"merchantAuthentication"`
	TransID                string                 `json:"transId"`
}

type sorting struct {
	OrderBy         string `json:"orderBy"`
	OrderDescending string `json:"orderDescending"`
}

type paging struct {
	Limit  string `json:"limit"`
	Offset string `json:"offset"`
}

type getUnsettledTransactionListRequest struct {
	MerchantAuthentication merchantAuthentication `json:"merchantAuthentication"`
	Sorting                sorting                `json:"sorting"`
	Paging                 paging                 `json:"paging"`
}

type getSettledBatchListRequest struct {
	MerchantAuthentication merchantAuthentication `json:"merchantAuthentication"`
	FirstSettlementDate    string                 `json:"firstSettlementDate"`
	LastSettlementDate     string                 `json:"lastSettlementDate"`
}

type getTransactionListRequest struct {
	MerchantAuthentication merchantAuthentication `json:"merchantAuthentication"`
	BatchID                string                 `json:"batchId"`
	Sorting                sorting                `json:"sorting"`
	Paging                 paging                 `json:"paging"`
}

type updateHeldTransactionRequest struct {
	MerchantAuthentication merchantAuthentication `json:"merchantAuthentication"`
	HeldTransactionRequest heldTransactionRequest `json:"heldTransactionRequest"`
}

type heldTransactionRequest struct {
	Action     string `json:"action"`
	RefTransID string `json:"refTransId"`
}

// Responses. Decoding is lenient where the API is known to vary: numbers may
// come as JSON strings or numbers, and a list may come as an array, a single
// object, or an object wrapping either (the XML element around the items).

type apiMessages struct {
	ResultCode string            `json:"resultCode"`
	Message    list[textMessage] `json:"message"`
}

type textMessage struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

type apiResponse struct {
	RefID    string      `json:"refId"`
	Messages apiMessages `json:"messages"`
}

func (r *apiResponse) header() *apiResponse { return r }

type createTransactionResponse struct {
	apiResponse
	TransactionResponse *transactionResponse `json:"transactionResponse"`
}

type transactionResponse struct {
	ResponseCode  flexString      `json:"responseCode"`
	AuthCode      string          `json:"authCode"`
	AVSResultCode string          `json:"avsResultCode"`
	CVVResultCode string          `json:"cvvResultCode"`
	TransID       flexString      `json:"transId"`
	RefTransID    flexString      `json:"refTransID"`
	AccountNumber string          `json:"accountNumber"`
	Messages      list[trMessage] `json:"messages"`
	Errors        list[trError]   `json:"errors"`
}

type trMessage struct {
	Code        flexString `json:"code"`
	Description string     `json:"description"`
}

type trError struct {
	ErrorCode flexString `json:"errorCode"`
	ErrorText string     `json:"errorText"`
}

type getTransactionDetailsResponse struct {
	apiResponse
	Transaction *transactionDetails `json:"transaction"`
}

type transactionDetails struct {
	TransID                   flexString `json:"transId"`
	RefTransID                flexString `json:"refTransId"`
	SubmitTimeUTC             string     `json:"submitTimeUTC"`
	TransactionType           string     `json:"transactionType"`
	TransactionStatus         string     `json:"transactionStatus"`
	ResponseCode              flexString `json:"responseCode"`
	ResponseReasonCode        flexString `json:"responseReasonCode"`
	ResponseReasonDescription string     `json:"responseReasonDescription"`
	AuthCode                  string     `json:"authCode"`
	AVSResponse               string     `json:"AVSResponse"`
	CardCodeResponse          string     `json:"cardCodeResponse"`
	Order                     *order     `json:"order"`
	AuthAmount                decimal    `json:"authAmount"`
	SettleAmount              decimal    `json:"settleAmount"`
	Payment                   *struct {
		CreditCard *struct {
			CardNumber     string `json:"cardNumber"`
			ExpirationDate string `json:"expirationDate"`
		} `json:"creditCard"`
	} `json:"payment"`
	Profile *struct {
		CustomerProfileID        flexString `json:"customerProfileId"`
		CustomerPaymentProfileID flexString `json:"customerPaymentProfileId"`
	} `json:"profile"`
}

type transactionListResponse struct {
	apiResponse
	Transactions        list[transactionSummary] `json:"transactions"`
	TotalNumInResultSet flexString               `json:"totalNumInResultSet"`
}

type transactionSummary struct {
	TransID           flexString `json:"transId"`
	SubmitTimeUTC     string     `json:"submitTimeUTC"`
	TransactionStatus string     `json:"transactionStatus"`
	InvoiceNumber     string     `json:"invoiceNumber"`
	AccountNumber     string     `json:"accountNumber"`
	SettleAmount      decimal    `json:"settleAmount"`
}

type settledBatchListResponse struct {
	apiResponse
	BatchList list[batch] `json:"batchList"`
}

type batch struct {
	BatchID           flexString `json:"batchId"`
	SettlementTimeUTC string     `json:"settlementTimeUTC"`
}

type updateHeldTransactionResponse struct {
	apiResponse
	TransactionResponse *transactionResponse `json:"transactionResponse"`
}

// flexString accepts a JSON string or number and keeps its text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// decimal is an amount in major units as the API writes it ("12.30" or
// 12.3), kept as text and converted to minor units without floating point.
type decimal string

func (d *decimal) UnmarshalJSON(b []byte) error {
	var f flexString
	if err := f.UnmarshalJSON(b); err != nil {
		return err
	}
	*d = decimal(f)
	return nil
}

// minor converts to minor units of a two-decimal currency.
func (d decimal) minor() (int64, error) {
	s := strings.TrimSpace(string(d))
	if s == "" {
		return 0, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, fmt.Errorf("amount %q has more than two decimals", s)
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("amount %q is not a decimal", s)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is not a decimal", s)
	}
	return w*100 + f, nil
}

// list decodes an array, a single object, or an object with one key wrapping
// either (how XML's repeated elements sometimes reach JSON).
type list[T any] []T

func (l *list[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case b[0] == '[':
		var items []T
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		*l = items
		return nil
	case b[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if len(m) == 1 {
			for _, v := range m {
				v = bytes.TrimSpace(v)
				if len(v) > 0 && (v[0] == '[' || (v[0] == '{' && !decodesStrictly[T](b))) {
					return l.UnmarshalJSON(v)
				}
			}
		}
		var one T
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = list[T]{one}
		return nil
	}
	return fmt.Errorf("list: unexpected %.10q", b)
}

// decodesStrictly reports whether b is an item itself (only fields of T)
// rather than a wrapper object around items.
func decodesStrictly[T any](b []byte) bool {
	var probe T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&probe) == nil
}
