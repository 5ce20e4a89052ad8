package control

import "net/http"

func (s *Server) statsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.svc.Stats.Stats())
	})
}
