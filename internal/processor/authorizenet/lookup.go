package authorizenet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/coffer-vault/coffer/internal/processor"
)

// details reads one transaction (getTransactionDetailsRequest).
func (c *Client) details(ctx context.Context, transID string) (*transactionDetails, error) {
	if !numeric(transID) {
		return nil, fmt.Errorf("%w: transaction %q", processor.ErrNotFound, transID)
	}
	var out getTransactionDetailsResponse
	err := c.call(ctx, "getTransactionDetailsRequest", getTransactionDetailsRequest{
		MerchantAuthentication: c.auth(), TransID: transID}, &out)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return nil, ae.mapped()
		}
		return nil, err
	}
	if out.Transaction == nil {
		return nil, fmt.Errorf("%w: transaction %s", processor.ErrNotFound, transID)
	}
	return out.Transaction, nil
}

// walk visits the unsettled transactions, newest first, then those of the
// batches settled in the last days (newest batch first), until visit says
// stop. Each list is read in pages of 1000, at most MaxPages pages.
func (c *Client) walk(ctx context.Context, days int, visit func(transactionSummary) bool) error {
	sortNewest := sorting{OrderBy: "submitTimeUTC", OrderDescending: "true"}
	pages := func(op string, mk func(paging) any) (bool, error) {
		for page := 1; page <= c.cfg.MaxPages; page++ {
			var out transactionListResponse
			if err := c.call(ctx, op, mk(paging{Limit: strconv.Itoa(pageSize), Offset: strconv.Itoa(page)}), &out); err != nil {
				var ae *apiError
				if errors.As(err, &ae) {
					return false, ae.mapped()
				}
				return false, err
			}
			for _, t := range out.Transactions {
				if visit(t) {
					return true, nil
				}
			}
			if len(out.Transactions) < pageSize {
				break
			}
		}
		return false, nil
	}
	stop, err := pages("getUnsettledTransactionListRequest", func(p paging) any {
		return getUnsettledTransactionListRequest{MerchantAuthentication: c.auth(), Sorting: sortNewest, Paging: p}
	})
	if err != nil || stop || days <= 0 {
		return err
	}
	now := c.cfg.Now().UTC()
	var bl settledBatchListResponse
	if err := c.call(ctx, "getSettledBatchListRequest", getSettledBatchListRequest{MerchantAuthentication: c.auth(),
		FirstSettlementDate: now.AddDate(0, 0, -days).Format("2006-01-02T15:04:05Z"),
		LastSettlementDate:  now.Format("2006-01-02T15:04:05Z")}, &bl); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae.mapped()
		}
		return err
	}
	batches := append([]batch(nil), bl.BatchList...)
	sort.SliceStable(batches, func(i, j int) bool { return batches[i].SettlementTimeUTC > batches[j].SettlementTimeUTC })
	for _, b := range batches {
		id := string(b.BatchID)
		stop, err := pages("getTransactionListRequest", func(p paging) any {
			return getTransactionListRequest{MerchantAuthentication: c.auth(), BatchID: id, Sorting: sortNewest, Paging: p}
		})
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// find returns the transaction made under an invoice digest (nil if none):
// an approved or held one rather than a declined one, and never one that
// ended in error (nothing happened there). Its description must carry the
// reference, which rules out a digest collision.
func (c *Client) find(ctx context.Context, invoice, reference string, days int) (*transactionDetails, error) {
	var hits []transactionSummary
	err := c.walk(ctx, days, func(t transactionSummary) bool {
		if t.InvoiceNumber == invoice && !errorStatuses[t.TransactionStatus] {
			hits = append(hits, t)
			return !declineStatuses[t.TransactionStatus] // an approved one ends the search
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	// Approved before declined; the walk already went newest first.
	sort.SliceStable(hits, func(i, j int) bool {
		return !declineStatuses[hits[i].TransactionStatus] && declineStatuses[hits[j].TransactionStatus]
	})
	for _, h := range hits {
		d, err := c.details(ctx, string(h.TransID))
		if err != nil {
			return nil, err
		}
		if d.Order == nil || d.Order.InvoiceNumber != invoice {
			continue
		}
		if _, _, ref, ok := parseDescription(d.Order.Description); ok && reference != "" && !sameReference(ref, reference) {
			continue
		}
		if string(d.ResponseCode) == rcError && !isCardError(string(d.ResponseReasonCode)) {
			continue
		}
		return d, nil
	}
	return nil, nil
}

// sameReference compares a reference with the one kept in a description,
// which may have been cut at 255 characters.
func sameReference(kept, reference string) bool {
	if len(kept) < len(reference) {
		return reference[:len(kept)] == kept
	}
	return kept == reference
}

// Lookup implements processor.Processor: it finds the transaction whose
// invoice number is the reference's digest among the unsettled transactions
// and the batches settled in the last LookupDays, reads its state, and sums
// the refunds whose invoice numbers carry its refund prefix.
func (c *Client) Lookup(ctx context.Context, merchantID, reference string) (processor.Authorization, error) {
	if reference == "" {
		return processor.Authorization{}, fmt.Errorf("%w: empty reference", processor.ErrNotFound)
	}
	invoice := authInvoice(merchantID, reference)
	var hits []transactionSummary
	refunds := map[string][]transactionSummary{} // refund prefix → refunds
	err := c.walk(ctx, c.cfg.LookupDays, func(t transactionSummary) bool {
		switch {
		case t.InvoiceNumber == invoice && !errorStatuses[t.TransactionStatus]:
			hits = append(hits, t)
		case len(t.InvoiceNumber) == 20 && t.InvoiceNumber[0] == 'R' && refundStatuses[t.TransactionStatus]:
			refunds[t.InvoiceNumber[:10]] = append(refunds[t.InvoiceNumber[:10]], t)
		}
		return false
	})
	if err != nil {
		return processor.Authorization{}, err
	}
	sort.SliceStable(hits, func(i, j int) bool {
		return !declineStatuses[hits[i].TransactionStatus] && declineStatuses[hits[j].TransactionStatus]
	})
	for _, h := range hits {
		d, err := c.details(ctx, string(h.TransID))
		if err != nil {
			return processor.Authorization{}, err
		}
		if d.Order == nil || d.Order.InvoiceNumber != invoice {
			continue
		}
		if _, _, ref, ok := parseDescription(d.Order.Description); ok && !sameReference(ref, reference) {
			continue
		}
		if string(d.ResponseCode) == rcError && !isCardError(string(d.ResponseReasonCode)) {
			continue
		}
		o := outcomeOf(d)
		c.remember(invoice, o)
		auth, err := o.result()
		if err != nil {
			return processor.Authorization{}, err
		}
		switch {
		case capturedStatuses[d.TransactionStatus]:
			auth.Captured, _ = d.SettleAmount.minor()
			auth.CaptureID = auth.ID
			for _, rf := range refunds[refundPrefix(auth.ID)] {
				n, _ := rf.SettleAmount.minor()
				auth.Refunded += n
			}
		case voidedStatuses[d.TransactionStatus]:
			auth.Voided = true
		}
		return auth, nil
	}
	return processor.Authorization{}, fmt.Errorf("%w: no authorization for reference %q", processor.ErrNotFound, reference)
}

// LookupRefund implements processor.Processor: the refund whose invoice
// number is the digest of capture and reference, from memory or from the
// unsettled transactions and the batches settled in the last LookupDays.
func (c *Client) LookupRefund(ctx context.Context, captureID, reference string) (processor.Refund, error) {
	if reference == "" {
		return processor.Refund{}, fmt.Errorf("%w: empty reference", processor.ErrNotFound)
	}
	return c.findRefund(ctx, captureID, reference, c.cfg.LookupDays)
}

// findRefund is LookupRefund searching days of settled batches (negative:
// the unsettled list only).
func (c *Client) findRefund(ctx context.Context, captureID, reference string, days int) (processor.Refund, error) {
	invoice := refundInvoice(captureID, reference)
	c.mu.Lock()
	rf, ok := c.refunds[invoice]
	c.mu.Unlock()
	if ok {
		return rf, nil
	}
	var hit *transactionSummary
	err := c.walk(ctx, days, func(t transactionSummary) bool {
		if t.InvoiceNumber == invoice && refundStatuses[t.TransactionStatus] {
			hit = &t
			return true
		}
		return false
	})
	if err != nil {
		return processor.Refund{}, err
	}
	if hit == nil {
		return processor.Refund{}, fmt.Errorf("%w: no refund %q of capture %q", processor.ErrNotFound, reference, captureID)
	}
	amount, _ := hit.SettleAmount.minor()
	rf = processor.Refund{ID: string(hit.TransID), CaptureID: captureID, Amount: amount}
	c.mu.Lock()
	c.refunds[invoice] = rf
	c.mu.Unlock()
	return rf, nil
}
