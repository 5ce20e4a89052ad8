package control

import "net/http"

// healthRoutes: 200 when the node does its job, 503 otherwise; the body
// is the same Health either way, with the problems named.
func (s *Server) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		h := s.svc.Health.Health()
		if h.Problems == nil {
			h.Problems = []string{}
		}
		w.Header().Set("Content-Type", "application/json")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		writeJSON(w, h)
	})
}
