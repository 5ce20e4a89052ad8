package control

import "net/http"

func (s *Server) failoverRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/failover", func(w http.ResponseWriter, r *http.Request) {
		if s.svc.Failover == nil {
			s.writeErr(w, r, errStandalone)
			return
		}
		writeJSON(w, s.svc.Failover.Status())
	})
	mux.HandleFunc("POST /v1/failover/partner-down", func(w http.ResponseWriter, r *http.Request) {
		if s.svc.Failover == nil {
			s.writeErr(w, r, errStandalone)
			return
		}
		if err := s.svc.Failover.PartnerDown(r.Context()); err != nil {
			s.writeErr(w, r, Refused("%v", err))
			return
		}
		writeJSON(w, s.svc.Failover.Status())
	})
}

var errStandalone = NotFound("this daemon runs standalone (serve without --peer): it has no failover partner")
