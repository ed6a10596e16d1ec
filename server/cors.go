package server

import (
	"net/http"
	"slices"
	"strings"
)

// Cross-origin requests (CORS) on the OFREP routes and the change stream,
// and only there, when origins are configured (WithCORSOrigins; off by
// default): a page on another origin can then run the OpenFeature web
// provider against this server. The answer echoes the request's Origin
// (never a bare "*", so credentials stay possible), varies on Origin, allows
// the methods the routes take and the headers the web provider sends
// (Content-Type, If-None-Match, and whatever else the preflight asks for,
// such as Authorization), and exposes ETag, without which a browser client
// can never send If-None-Match and get a 304.

// corsAllowMethods are the methods of the OFREP routes.
const corsAllowMethods = "POST, GET, OPTIONS"

// corsDefaultHeaders are allowed when a preflight names none.
const corsDefaultHeaders = "Content-Type, If-None-Match, Authorization"

// cors wraps the OFREP handler.
func (s *Server) cors(next http.Handler) http.Handler {
	origins := s.cfg.corsOrigins
	if len(origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !(anyOrigin || slices.Contains(origins, origin)) {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "ETag")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			allow := corsDefaultHeaders
			if req := strings.TrimSpace(r.Header.Get("Access-Control-Request-Headers")); req != "" && len(req) <= 1024 {
				allow = req
			}
			h.Set("Access-Control-Allow-Headers", allow)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
