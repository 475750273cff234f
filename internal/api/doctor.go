package api

import (
	"context"
	"net/http"

	"github.com/mailprobe/mailprobe/internal/doctor"
)

// Doctor runs the setup checks of `mailprobe doctor`; *doctor.Doctor
// implements it.
type Doctor interface {
	Run(ctx context.Context, target string) doctor.Report
}

// doctorReport serves GET /v1/doctor?target=HOST: the report of the
// server's own configuration, 200 whether or not a check failed (the
// report's ok says), within the inline budget so that API Gateway's 30 s
// limit is never reached.
func (s *server) doctorReport(w http.ResponseWriter, r *http.Request) {
	if s.deps.Doctor == nil {
		s.writeError(w, http.StatusServiceUnavailable, "The doctor is not available on this server.")
		return
	}
	target := r.URL.Query().Get("target")
	if err := doctor.ValidateTarget(target); err != nil {
		s.writeError(w, http.StatusBadRequest, "Invalid target: want a domain, an MX host name or an IP address.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InlineBudget)
	defer cancel()
	s.writeJSON(w, http.StatusOK, s.deps.Doctor.Run(ctx, target))
}
