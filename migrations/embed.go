// Package migrations embeds the schema, one folder per SQL dialect with the
// same version numbers in each, run by goose at start and by `recontact migrate`.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
