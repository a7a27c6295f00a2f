package anetfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The fake checks requests the way Authorize.net does: the JSON is read as
// the XML it stands for and validated against (a subset of)
// AnetApiSchema.xsd — elements in schema sequence, required ones present,
// unknown ones refused, each value of its type and length. Every leaf must
// be a JSON string, as in Authorize.net's documented JSON samples. A failure
// is answered E00003 with a message shaped like the real one (which quotes
// the offending value, as the real API does).

type kind int

const (
	kObj kind = iota
	kStr
	kDec
	kNum // numericString
	kBool
	kInt
	kDateTime
)

type node struct {
	name     string
	kind     kind
	required bool
	repeat   bool
	min, max int // string length bounds (0: none)
	lo, hi   int // kInt bounds
	enum     []string
	children []*node
}

func obj(name string, required bool, children ...*node) *node {
	return &node{name: name, kind: kObj, required: required, children: children}
}

func leaf(name string, k kind, required bool) *node {
	return &node{name: name, kind: k, required: required}
}

func str(name string, required bool, min, max int) *node {
	return &node{name: name, kind: kStr, required: required, min: min, max: max}
}

func enum(name string, required bool, values ...string) *node {
	return &node{name: name, kind: kStr, required: required, enum: values}
}

func intRange(name string, required bool, lo, hi int) *node {
	return &node{name: name, kind: kInt, required: required, lo: lo, hi: hi}
}

func (n *node) many() *node { n.repeat = true; return n }

func header(rest ...*node) []*node {
	return append([]*node{
		obj("merchantAuthentication", true, str("name", true, 0, 25), str("transactionKey", true, 0, 16)),
		str("clientId", false, 0, 30),
		str("refId", false, 0, 20),
	}, rest...)
}

var (
	sortingNode = obj("sorting", false, enum("orderBy", true, "id", "submitTimeUTC"), leaf("orderDescending", kBool, true))
	pagingNode  = obj("paging", false, intRange("limit", true, 1, 1000), intRange("offset", true, 1, 100000))
	nameAddress = []*node{str("firstName", false, 0, 50), str("lastName", false, 0, 50), str("company", false, 0, 50),
		str("address", false, 0, 60), str("city", false, 0, 40), str("state", false, 0, 40), str("zip", false, 0, 20),
		str("country", false, 0, 60)}
)

var schemas = map[string]*node{
	"createTransactionRequest": obj("createTransactionRequest", true, header(
		obj("transactionRequest", true,
			enum("transactionType", true, "authOnlyTransaction", "authCaptureTransaction", "captureOnlyTransaction",
				"refundTransaction", "priorAuthCaptureTransaction", "voidTransaction", "getDetailsTransaction",
				"authOnlyContinueTransaction", "authCaptureContinueTransaction"),
			leaf("amount", kDec, false),
			str("currencyCode", false, 0, 0),
			obj("payment", false,
				obj("creditCard", true,
					str("cardNumber", true, 4, 16),
					str("expirationDate", true, 4, 7),
					&node{name: "cardCode", kind: kNum, min: 3, max: 4})),
			obj("profile", false,
				leaf("createProfile", kBool, false),
				leaf("customerProfileId", kNum, false),
				obj("paymentProfile", false, leaf("paymentProfileId", kNum, true), &node{name: "cardCode", kind: kNum, min: 3, max: 4}),
				leaf("shippingProfileId", kNum, false)),
			str("authCode", false, 0, 0),
			str("refTransId", false, 0, 0),
			obj("order", false, str("invoiceNumber", false, 0, 20), str("description", false, 0, 255)),
			obj("billTo", false, append(append([]*node{}, nameAddress...),
				str("phoneNumber", false, 0, 25), str("faxNumber", false, 0, 25), str("email", false, 0, 0))...),
			str("customerIP", false, 0, 0),
			obj("transactionSettings", false,
				obj("setting", false, str("settingName", false, 0, 0), str("settingValue", false, 0, 0)).many()),
		))...),
	"getTransactionDetailsRequest": obj("getTransactionDetailsRequest", true, header(leaf("transId", kNum, true))...),
	"getUnsettledTransactionListRequest": obj("getUnsettledTransactionListRequest", true, header(
		enum("status", false, "any", "pendingApproval"), sortingNode, pagingNode)...),
	"getSettledBatchListRequest": obj("getSettledBatchListRequest", true, header(
		leaf("includeStatistics", kBool, false), leaf("firstSettlementDate", kDateTime, false),
		leaf("lastSettlementDate", kDateTime, false))...),
	"getTransactionListRequest": obj("getTransactionListRequest", true, header(
		leaf("batchId", kNum, false), sortingNode, pagingNode)...),
	"updateHeldTransactionRequest": obj("updateHeldTransactionRequest", true, header(
		obj("heldTransactionRequest", true, enum("action", true, "approve", "decline"), str("refTransId", true, 0, 0)))...),
}

const xsd = "AnetApi/xml/v1/schema/AnetApiSchema.xsd:"

type schemaError struct{ msg string }

func (e *schemaError) Error() string { return e.msg }

func invalid(format string, a ...any) error { return &schemaError{fmt.Sprintf(format, a...)} }

// validate reads the request: one top-level key naming the operation, whose
// value must match that operation's schema. It returns the operation and
// the request decoded as a generic tree.
func validate(body []byte) (string, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", nil, invalid("Root element is missing.")
	}
	t, err := dec.Token()
	if err != nil {
		return "", nil, invalid("Root element is missing.")
	}
	op, _ := t.(string)
	root, ok := schemas[op]
	if !ok {
		return "", nil, invalid("The element '%s' is not a valid request.", op)
	}
	if err := readNode(dec, root); err != nil {
		return op, nil, err
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return op, nil, invalid("Data at the root level is invalid: one request per message.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return op, nil, invalid("Data at the root level is invalid.")
	}
	var whole map[string]map[string]any
	d2 := json.NewDecoder(bytes.NewReader(body))
	d2.UseNumber()
	if err := d2.Decode(&whole); err != nil {
		return op, nil, invalid("Data at the root level is invalid.")
	}
	return op, whole[op], nil
}

func readNode(dec *json.Decoder, n *node) error {
	if n.kind != kObj {
		return readLeaf(dec, n)
	}
	t, err := dec.Token()
	if err != nil {
		return invalid("The element '%s' is malformed.", n.name)
	}
	if t != json.Delim('{') {
		return invalid("The element '%s' cannot contain text.", n.name)
	}
	pos := 0
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return invalid("The element '%s' is malformed.", n.name)
		}
		key, _ := t.(string)
		i := pos
		for i < len(n.children) && n.children[i].name != key {
			i++
		}
		if i == len(n.children) || seen[key] {
			return invalid("The element '%s' has invalid child element '%s'. List of possible elements expected: '%s'.",
				n.name, key, expected(n.children[pos:]))
		}
		for _, skipped := range n.children[pos:i] {
			if skipped.required && !seen[skipped.name] {
				return invalid("The element '%s' has invalid child element '%s'. List of possible elements expected: '%s'.",
					n.name, key, skipped.name)
			}
		}
		c := n.children[i]
		seen[key] = true
		pos = i + 1
		if c.repeat {
			if err := readRepeat(dec, c); err != nil {
				return err
			}
		} else if err := readNode(dec, c); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return invalid("The element '%s' is malformed.", n.name)
	}
	for _, c := range n.children {
		if c.required && !seen[c.name] {
			return invalid("The element '%s' has incomplete content. List of possible elements expected: '%s'.", n.name, c.name)
		}
	}
	return nil
}

func readRepeat(dec *json.Decoder, n *node) error {
	raw := json.RawMessage{}
	if err := dec.Decode(&raw); err != nil {
		return invalid("The element '%s' is malformed.", n.name)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return invalid("The element '%s' is malformed.", n.name)
		}
		for _, it := range items {
			if err := readNode(json.NewDecoder(bytes.NewReader(it)), n); err != nil {
				return err
			}
		}
		return nil
	}
	return readNode(json.NewDecoder(bytes.NewReader(raw)), n)
}

func expected(ns []*node) string {
	names := make([]string, 0, len(ns))
	for _, n := range ns {
		names = append(names, n.name)
	}
	return strings.Join(names, ", ")
}

var (
	decimalRE  = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)
	numericRE  = regexp.MustCompile(`^[0-9]+$`)
	typeNames  = map[kind]string{kStr: "String", kDec: "Decimal", kNum: "numericString", kBool: "Boolean", kInt: "Int", kDateTime: "DateTime"}
	timeLayout = []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02"}
)

func readLeaf(dec *json.Decoder, n *node) error {
	t, err := dec.Token()
	if err != nil {
		return invalid("The element '%s' is malformed.", n.name)
	}
	v, ok := t.(string)
	if !ok {
		if d, isDelim := t.(json.Delim); isDelim && (d == '{' || d == '[') {
			return invalid("The element '%s' cannot contain child elements.", n.name)
		}
		return invalid("The '%s%s' element is invalid - The value '%v' is invalid according to its datatype '%s' - the JSON API takes values as strings.",
			xsd, n.name, t, typeNames[n.kind])
	}
	bad := func(why string) error {
		return invalid("The '%s%s' element is invalid - The value '%s' is invalid according to its datatype '%s'%s.",
			xsd, n.name, v, typeNames[n.kind], why)
	}
	switch n.kind {
	case kDec:
		if !decimalRE.MatchString(v) {
			return bad("")
		}
	case kNum:
		if !numericRE.MatchString(v) {
			return bad("")
		}
	case kBool:
		if v != "true" && v != "false" {
			return bad("")
		}
	case kInt:
		i, err := strconv.Atoi(v)
		if err != nil {
			return bad("")
		}
		if i < n.lo || i > n.hi {
			return bad(fmt.Sprintf(" - The value must be between %d and %d", n.lo, n.hi))
		}
	case kDateTime:
		okTime := false
		for _, l := range timeLayout {
			if _, err := time.Parse(l, v); err == nil {
				okTime = true
				break
			}
		}
		if !okTime {
			return bad("")
		}
	}
	if n.max > 0 && len(v) > n.max {
		return bad(" - The actual length is greater than the MaxLength value")
	}
	if n.min > 0 && len(v) < n.min {
		return bad(" - The actual length is less than the MinLength value")
	}
	if len(n.enum) > 0 {
		found := false
		for _, e := range n.enum {
			found = found || e == v
		}
		if !found {
			return bad(" - The Enumeration constraint failed")
		}
	}
	return nil
}
