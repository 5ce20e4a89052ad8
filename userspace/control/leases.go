package control

import "net/http"

func (s *Server) leaseRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/leases", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.svc.Leases.All())
	})
}
