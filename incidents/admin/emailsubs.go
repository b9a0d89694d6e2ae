package admin

import (
	"context"
	"net/http"

	"linkwatch"
)

// EmailSubscriberStore is what the admin API needs of the status page's
// email subscribers: their count per page, the export, and deletion.
type EmailSubscriberStore interface {
	ListEmailSubscribers(ctx context.Context) ([]linkwatch.EmailSubscriber, error)
	CountEmailSubscribers(ctx context.Context) (map[string]int, error)
	DeleteEmailSubscriber(ctx context.Context, id int64) error
}

// EmailSubscriberCounts is how many confirmed subscribers each page has
// ("" for every page's): numbers, never addresses, for the status admin
// (this API and the console).
func (a *API) EmailSubscriberCounts(ctx context.Context) (map[string]int, error) {
	return a.store.CountEmailSubscribers(ctx)
}

func (a *API) emailSubscriberCounts(w http.ResponseWriter, r *http.Request) {
	counts, err := a.EmailSubscriberCounts(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	writeJSON(w, http.StatusOK, map[string]any{"pages": counts, "total": total})
}

// exportEmailSubscribers is every subscriber with its address, pending
// ones included: the operators' export (a data request, a move). The
// links' keys are never shown.
func (a *API) exportEmailSubscribers(w http.ResponseWriter, r *http.Request) {
	list, err := a.store.ListEmailSubscribers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"subscribers": nonNil(list)})
}

// deleteEmailSubscriber deletes a subscriber and its address; its links
// stop working.
func (a *API) deleteEmailSubscriber(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.DeleteEmailSubscriber(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("email subscriber deleted by an operator", "subscriber", id)
	w.WriteHeader(http.StatusNoContent)
}
