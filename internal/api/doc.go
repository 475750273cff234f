// Package api is mailprobe's Reacher-compatible HTTP API: one http.Handler
// that serves API Gateway (through LambdaHandler) and `mailprobe serve`
// (through net/http) alike. A Reacher client works by changing only the
// base URL; openapi.json (served at /openapi.json) describes every route.
//
// Routes (see Routes):
//
//	POST /v0/check_email, POST /v1/check_email   check one address inline
//	GET  /v1/check_email/{job_id}                result of a check that outran the inline budget
//	POST /v1/bulk                                create a bulk job (up to 100 000 addresses)
//	GET  /v1/bulk/{job_id}                       progress of a bulk job
//	GET  /v1/bulk/{job_id}/results               results so far, JSON or CSV
//	GET  /healthz, /version, /openapi.json       operations
//	GET  /metrics                                Prometheus text, local mode only
//
// Authentication: every route but /healthz requires x-reacher-secret
// (/metrics also takes it as "Authorization: Bearer", for Prometheus),
// compared in constant time; 401 JSON when it is missing or wrong (Reacher
// answers 400 plain text, and forgets the bulk reads).
//
// Inline with a deadline: API Gateway cuts requests at 30 s, so a check runs
// inline for at most Config.InlineBudget (25 s). When it cannot conclude
// (slow MX, tarpit) or the server greylisted it, the address becomes a
// single-shot job (Total 1) on the queue, delayed as long as the server
// asked, and the answer is 202 {"job_id", "status_url", "job_status"}; the
// status URL answers 202 until the worker stores the result, then 200 with
// it.
//
// Throttle: only the check and bulk-create routes count, shortest window
// first (see package throttle); every request to them counts, malformed or
// not, because the limit protects the service, not the verifications. Reads
// are cheap, and a client polling a job must not lock itself out of
// creating the next one. 429 carries Reacher's text and Retry-After. A
// failing counter lets requests through and logs: an outage of the counter
// table must not take the API down.
//
// Cache: see checkCache. Final verdicts only, keyed by normalized address
// and the options that change the answer; skip_cache or Cache-Control:
// no-cache bypass it; X-Mailprobe-Cache says hit, miss, bypass or off.
//
// Proxies: a request's "proxy" is refused with 400 unless
// Config.AllowRequestProxy; otherwise the configured proxies are used. When
// allowed, the proxy (password included) travels in the queue message of a
// deferred check, because the worker needs it.
//
// Errors: {"error":"..."} always, with the byte offset of malformed JSON and
// the name of a mistyped field; 413 for bodies over 16 KiB (check), 8 MiB or
// 100 000 addresses (bulk); JSON 404 and 405 for unknown routes and
// methods. Internal errors are logged with the request id and answered 500
// with a fixed text carrying only that id. Every response has X-Request-Id.
//
// Logs: one slog line per request (method, route pattern, status,
// duration_ms, request_id, and the address only with Config.LogEmails).
package api
