package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server answers the control API from a node's services.
type Server struct {
	svc Services
	log *slog.Logger
	mux *http.ServeMux
}

// routes lists every route file's registration (one line per file).
var routes = []func(*Server, *http.ServeMux){
	(*Server).leaseRoutes,
	(*Server).statsRoutes,
	(*Server).ruleRoutes,
	(*Server).failoverRoutes,
	(*Server).healthRoutes,
}

// NewServer builds the routes over svc.
func NewServer(svc Services, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{svc: svc, log: log, mux: http.NewServeMux()}
	for _, r := range routes {
		r(s, s.mux)
	}
	return s
}

// Handler is the API as an http.Handler (tests, other listeners).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve answers on ln until ctx ends; requests in flight get a second.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	err := srv.Serve(ln)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("control socket: %w", err)
}

// Error is a refusal the API reports with its HTTP status and reason; the
// client returns it as is.
type Error struct {
	Status int    `json:"-"`
	Msg    string `json:"error"`
}

func (e *Error) Error() string { return e.Msg }

// Refused is an operation the daemon will not do now (409), with why.
func Refused(format string, a ...any) error {
	return &Error{Status: http.StatusConflict, Msg: fmt.Sprintf(format, a...)}
}

// Invalid is a request that makes no sense (400).
func Invalid(format string, a ...any) error {
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, a...)}
}

// NotFound is something this daemon does not have (404).
func NotFound(format string, a ...any) error {
	return &Error{Status: http.StatusNotFound, Msg: fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers err as {"error": "..."} with its status (500 for
// anything that is not an *Error).
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	e := &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
	errors.As(err, &e)
	if e.Status >= 500 {
		s.log.Warn("control request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// maxBody bounds a request body: the API takes small JSON objects only.
const maxBody = 64 << 10

// readJSON decodes a request body into v, refusing unknown fields and
// anything but one object.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Invalid("request body: %v", err)
	}
	if dec.More() {
		return Invalid("request body: more than one JSON value")
	}
	return nil
}
