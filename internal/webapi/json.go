package webapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// ErrorBody is the shape of every error the API answers with.
type ErrorBody struct {
	Error string `json:"error"`
	// Field names the request field the error is about, if one is.
	Field string `json:"field,omitempty"`
}

// Write answers with v as JSON, never cached.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers with {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, ErrorBody{Error: msg})
}

// FieldError answers with {"error": msg, "field": field}.
func FieldError(w http.ResponseWriter, status int, field, msg string) {
	Write(w, status, ErrorBody{Error: msg, Field: field})
}

// Decode reads r's body, which must be application/json of at most limit
// bytes, into v; fields v does not have are refused. When it cannot, it
// answers (415, 413 or 400) and returns false.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		Error(w, http.StatusUnsupportedMediaType, "send application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return true
	}
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		Error(w, http.StatusRequestEntityTooLarge, "request body too large")
		return false
	}
	if typ, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		FieldError(w, http.StatusBadRequest, typ.Field, "bad JSON: "+err.Error())
		return false
	}
	if _, ok := errors.AsType[*json.SyntaxError](err); ok {
		Error(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	if field, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
		FieldError(w, http.StatusBadRequest, strings.TrimSuffix(field, `"`), "bad JSON: "+err.Error())
		return false
	}
	if errors.Is(err, io.EOF) {
		Error(w, http.StatusBadRequest, "bad JSON: the request body is empty")
		return false
	}
	Error(w, http.StatusBadRequest, "the request body could not be read") // a cut or timed-out upload
	return false
}
