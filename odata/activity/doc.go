// Package activity records what the gateway's clients did, apart from
// answering them: each source's and set's traffic over the last hour (for
// the admin page's charts), the audit records of writes and refused
// credentials, and the rate each client may still send at. The server
// feeds it; the admin API reads it.
package activity
