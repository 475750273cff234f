// Package api is mailprobe's Reacher-compatible HTTP API: one http.Handler
// that serves API Gateway (through LambdaHandler) and `mailprobe serve`
// (through net/http) alike. A Reacher client works by changing only the
// base URL; openapi.json (served at /openapi.json) describes every route,
// and README.md in this directory how they work.
//
// Routes (see Routes):
//
//	POST /v0/check_email, POST /v1/check_email   check one address, answered 200 as Reacher
//	GET  /v1/check_email/{job_id}                a check going on in the background
//	POST /v0/bulk, POST /v1/bulk                 create a bulk job (up to 100 000 addresses)
//	GET  /v0|v1/bulk/{job_id}                    progress of a bulk job
//	GET  /v0|v1/bulk/{job_id}/results            results so far, JSON or CSV
//	POST /v1/bulk/{job_id}/export                a short-lived URL of the full results
//	GET  /v1/bulk/{job_id}/export                that URL, signed, local mode only
//	GET  /healthz, /version, /openapi.json       operations
//	GET  /metrics                                Prometheus text, local mode only
//	GET  /, /console/, /console/{asset}          the web console (package console)
//
// Authentication: every route but /healthz, /version, the signed export
// and the console's page and files requires x-reacher-secret (/metrics also takes it as "Authorization:
// Bearer", for Prometheus), compared in constant time; 401 JSON when it is
// missing or wrong (Reacher answers 400 plain text, and forgets the bulk
// reads), and 429 for an address that sent too many wrong ones. Without a
// secret (open mode) the Host is checked against DNS rebinding and a
// request's proxy is refused; POST bodies must be application/json.
//
// Within the budget: API Gateway cuts requests at 30 s, so a check runs for
// at most Config.InlineBudget (25 s) and is then answered 200 with the
// result so far, as Reacher answers. A result that did not conclude for a
// retryable cause is also queued as a single-shot job (Total 1), delayed
// as long as the server asked, and the 200 names its status URL; with
// Prefer: respond-async the answer is 202 {"job_id", "status_url",
// "job_status"} instead. The status URL answers 202 until the worker stores
// the result, then 200 with it.
//
// Throttle and cache are off by default, as in Reacher. Only the check and
// bulk-create routes count against the throttle, shortest window first
// (see package throttle); every request to them counts, malformed or not,
// because the limit protects the service, not the verifications. A failing
// counter lets requests through and logs: an outage of the counter table
// must not take the API down. Cache: see checkCache.
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
