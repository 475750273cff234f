// Package infra holds mailprobe's deployment description, the SAM template
// (template.yaml). Its tests check the template: resources, IAM, routes
// (against the API handler's api.Routes), parameters and environment.
package infra
