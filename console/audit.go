package console

import (
	"net/http"
	"strconv"

	"linkwatch"
)

// auditPageSize is how many entries the audit log shows at once.
const auditPageSize = 100

// auditView is the audit log page: a page of entries, newest first, and
// where the next one starts (0: none).
type auditView struct {
	Entries []linkwatch.AuditEntry
	Next    int64
}

// auditPage shows the audit log, newest first, a page at a time
// (?before=ID).
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s session) {
	var before int64
	if raw := r.URL.Query().Get("before"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			c.renderError(w, r, s, http.StatusBadRequest, "audit.html", "Audit log", auditView{},
				"?before= must be a positive entry id, such as one a “Older entries” link gives.")
			return
		}
		before = n
	}
	list, err := c.store.AuditLog(r.Context(), linkwatch.AuditQuery{Before: before, Limit: auditPageSize + 1})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := auditView{Entries: list}
	if len(list) > auditPageSize {
		v.Entries = list[:auditPageSize]
		v.Next = v.Entries[auditPageSize-1].ID
	}
	c.render(w, r, s, http.StatusOK, "audit.html", "Audit log", v)
}
