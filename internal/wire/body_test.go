package wire

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBodyDeclaredLength: a body is read the same whatever length its
// request declares, true or not, and refused the same past the limit.
func TestReadBodyDeclaredLength(t *testing.T) {
	for _, tc := range []struct {
		body     string
		declared int64
		limit    int64
	}{
		{"", 0, 0}, {"", -1, 10}, {`{"a":1}`, 7, 0}, {`{"a":1}`, 7, 7}, {`{"a":1}`, 7, 6},
		{`{"a":1}`, 3, 0}, {`{"a":1}`, 3, 5}, {`{"a":1}`, 100, 0}, {`{"a":1}`, 100, 50},
		{`{"a":1}`, -1, 0}, {`{"a":1}`, 5, 6}, {strings.Repeat("x", 3*maxSizeHint), 3 * maxSizeHint, 0},
		{strings.Repeat("x", 3*maxSizeHint), 100, 0}, {strings.Repeat("x", 1000), 1000, 999},
	} {
		for _, half := range []bool{false, true} {
			// read reads with ReadBody, or as it used to (io.ReadAll).
			read := func(old bool) ([]byte, *Error, error) {
				var r io.Reader = strings.NewReader(tc.body)
				if half {
					r = iotest.HalfReader(r) // short reads
				}
				req := httptest.NewRequest("POST", "/", nil)
				req.Body, req.ContentLength = io.NopCloser(r), tc.declared
				if old {
					body := req.Body
					if tc.limit > 0 {
						body = http.MaxBytesReader(httptest.NewRecorder(), body, tc.limit)
					}
					b, err := io.ReadAll(body)
					return b, nil, err
				}
				b, e := ReadBody(httptest.NewRecorder(), req, tc.limit)
				return b, e, nil
			}
			got, e, _ := read(false)
			want, _, err := read(true)
			if err != nil {
				if e == nil || !reflect.DeepEqual(e, BodyError(err)) {
					t.Errorf("%d bytes declared %d, limit %d: %+v, want %+v", len(tc.body), tc.declared, tc.limit, e, BodyError(err))
				}
				continue
			}
			if e != nil || !bytes.Equal(got, want) || len(got) != len(tc.body) {
				t.Errorf("%d bytes declared %d, limit %d: read %d bytes, %v", len(tc.body), tc.declared, tc.limit, len(got), e)
			}
		}
	}
	// A connection that fails midway fails the read, at any declared length.
	for _, declared := range []int64{-1, 5, 10, 1 << 20} {
		req := httptest.NewRequest("POST", "/", nil)
		req.Body = io.NopCloser(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("reset"))))
		req.ContentLength = declared
		if _, e := ReadBody(httptest.NewRecorder(), req, 100); e == nil || e.Code != CodeUnreadable {
			t.Errorf("declared %d: %+v", declared, e)
		}
	}
}
