package control

import "net/http"

// ruleRoutes: GET reads the rule in force; PUT changes threshold,
// assignment or state through the node, the rule's one writer, which
// answers with what the server(s) now use.
func (s *Server) ruleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/rule", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.svc.Rules.Rule())
	})
	mux.HandleFunc("PUT /v1/rule", func(w http.ResponseWriter, r *http.Request) {
		var ch RuleChange
		if err := readJSON(r, &ch); err != nil {
			s.writeErr(w, r, err)
			return
		}
		if ch.Empty() {
			s.writeErr(w, r, Invalid("rule change: give threshold, hba, role or state"))
			return
		}
		v, err := s.svc.Rules.Tune(r.Context(), ch)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		writeJSON(w, v)
	})
}
