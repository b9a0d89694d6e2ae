package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// familiesFile lists what linkwatch serves at /metrics, written by
// metrics/prom's own test from what its exporter serves.
const familiesFile = "../metrics/prom/testdata/families.txt"

// family is one metric family linkwatch serves.
type family struct {
	name, typ string
	labels    []string
}

// series is a series name a query may select, and its labels.
type series struct {
	family *family
	labels []string
}

// targetLabels are the labels Prometheus adds to every series it scrapes.
var targetLabels = []string{"job", "instance"}

// loadFamilies reads familiesFile: "name type label,label" per line, "-"
// for no label.
func loadFamilies(path string) (map[string]*family, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*family{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: %q is not name, type and labels", path, n, line)
		}
		fam := &family{name: f[0], typ: f[1]}
		if f[2] != "-" {
			fam.labels = strings.Split(f[2], ",")
		}
		out[fam.name] = fam
	}
	return out, sc.Err()
}

// seriesOf returns every series name the families' scrape holds: a
// histogram's _bucket (with le), _sum and _count, the others' own name,
// and Prometheus's up of each target.
func seriesOf(fams map[string]*family) map[string]series {
	out := map[string]series{"up": {}}
	for _, f := range fams {
		labels := append(slices.Clone(f.labels), targetLabels...)
		if f.typ == "histogram" {
			out[f.name+"_bucket"] = series{f, append(slices.Clone(labels), "le")}
			out[f.name+"_sum"] = series{f, labels}
			out[f.name+"_count"] = series{f, labels}
			continue
		}
		out[f.name] = series{f, labels}
	}
	out["up"] = series{labels: targetLabels}
	return out
}

// dashboard is what the checks read of a Grafana dashboard's JSON.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

// dashboardDatasource is how every query names its data source: the
// dashboard's variable, so an import picks the Prometheus that scrapes
// linkwatch.
var dashboardDatasource = datasourceRef{Type: "prometheus", UID: "${datasource}"}

// mustShow are the families the dashboard must chart: what an operator
// of linkwatch looks at first.
var mustShow = []string{
	"linkwatch_checks_total", "linkwatch_check_duration_seconds", "linkwatch_incidents_open",
	"linkwatch_outbox_pending", "linkwatch_outbox_oldest_pending_age_seconds", "linkwatch_deliveries_total",
	"linkwatch_replicas", "linkwatch_storage_up", "linkwatch_redirects_total", "linkwatch_redirect_duration_seconds",
}

// grafanaIntervals are Grafana's own interval variables, which it
// replaces before Prometheus sees a query; the checks put a duration in
// their place to parse it.
var grafanaIntervals = strings.NewReplacer("$__rate_interval", "5m", "${__rate_interval}", "5m", "$__interval", "1m", "${__interval}", "1m", "$__range", "1h", "${__range}", "1h")

// dashboardProblems lists what is wrong with a dashboard's JSON for
// linkwatch's metrics, each naming the panel: a query that does not
// parse, names a series linkwatch does not serve or a label its series
// do not have, a quantile of buckets without le, a panel without a query
// or with its own data source, and a required family no panel shows.
func dashboardProblems(raw []byte, fams map[string]*family) []string {
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return []string{"decode the dashboard: " + err.Error()}
	}
	c := &queryCheck{series: seriesOf(fams), shown: map[string]bool{}}
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		c.fail("the dashboard", "want a uid, a title and a schemaVersion")
	}
	for _, v := range d.Templating.List {
		c.variable(v)
	}
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			c.panel(p, ids)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, name := range mustShow {
		if !c.shown[name] {
			c.fail("the dashboard", fmt.Sprintf("no panel shows %s", name))
		}
	}
	return c.found
}

// queryCheck checks a dashboard's panels and queries.
type queryCheck struct {
	series map[string]series
	shown  map[string]bool // families some query selects
	found  []string
}

func (c *queryCheck) fail(where, msg string) {
	c.found = append(c.found, where+": "+msg)
}

func (c *queryCheck) variable(v variable) {
	where := fmt.Sprintf("variable %s", v.Name)
	switch v.Type {
	case "datasource":
		return
	case "query":
	default:
		c.fail(where, fmt.Sprintf("type %q: want datasource or query", v.Type))
		return
	}
	if v.Datasource == nil || *v.Datasource != dashboardDatasource {
		c.fail(where, fmt.Sprintf("data source %v, want %v", v.Datasource, dashboardDatasource))
	}
	var q struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &q); err != nil {
		c.fail(where, "query: "+err.Error())
		return
	}
	// label_values(<series selector>, <label>): Grafana's, not PromQL.
	inner, ok := strings.CutPrefix(q.Query, "label_values(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	i := strings.LastIndex(inner, ",")
	if !ok || !ok2 || i < 0 {
		c.fail(where, fmt.Sprintf("query %q: want label_values(<series>, <label>)", q.Query))
		return
	}
	label := strings.TrimSpace(inner[i+1:])
	c.query(where, fmt.Sprintf("count by (%s) (%s)", label, inner[:i]))
}

func (c *queryCheck) panel(p panel, ids map[int]bool) {
	where := fmt.Sprintf("panel %q", p.Title)
	if p.Title == "" {
		where = fmt.Sprintf("panel %d", p.ID)
		c.fail(where, "want a title")
	}
	if ids[p.ID] {
		c.fail(where, fmt.Sprintf("id %d is another panel's too", p.ID))
	}
	ids[p.ID] = true
	if g := p.GridPos; g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
		c.fail(where, fmt.Sprintf("gridPos %+v is off Grafana's 24 columns", g))
	}
	if p.Type == "row" {
		return
	}
	if p.Datasource == nil || *p.Datasource != dashboardDatasource {
		c.fail(where, fmt.Sprintf("data source %v, want %v", p.Datasource, dashboardDatasource))
	}
	if len(p.Targets) == 0 {
		c.fail(where, "no query")
	}
	for _, t := range p.Targets {
		tw := where + " query " + t.RefID
		if t.Datasource != nil && *t.Datasource != dashboardDatasource {
			c.fail(tw, fmt.Sprintf("data source %v, want %v", t.Datasource, dashboardDatasource))
		}
		if strings.TrimSpace(t.Expr) == "" {
			c.fail(tw, "empty query")
			continue
		}
		c.query(tw, t.Expr)
	}
}

// query parses expr as Prometheus would, once Grafana has put its
// intervals in, and checks every series it selects and label it names.
func (c *queryCheck) query(where, expr string) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaIntervals.Replace(expr))
	if err != nil {
		c.fail(where, fmt.Sprintf("parse %q: %v", expr, err))
		return
	}
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			c.selector(where, n)
		case *parser.AggregateExpr:
			c.grouping(where, n)
		case *parser.Call:
			if n.Func.Name == "histogram_quantile" && len(n.Args) == 2 {
				c.quantile(where, n.Args[1])
			}
		}
		return nil
	})
}

func (c *queryCheck) selector(where string, vs *parser.VectorSelector) {
	s, ok := c.series[vs.Name]
	if !ok {
		c.fail(where, fmt.Sprintf("%s is not a series linkwatch serves (%s)", vs.Name, familiesFile))
		return
	}
	if s.family != nil {
		c.shown[s.family.name] = true
	}
	for _, m := range vs.LabelMatchers {
		if m.Name != "__name__" && !slices.Contains(s.labels, m.Name) {
			c.fail(where, fmt.Sprintf("%s has no label %s (it has %v)", vs.Name, m.Name, s.labels))
		}
	}
}

// grouping checks that an aggregation keeps or drops only labels the
// series under it have: "by (host)" of series without one is one
// series, silently.
func (c *queryCheck) grouping(where string, a *parser.AggregateExpr) {
	var have []string
	parser.Inspect(a.Expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			have = append(have, c.series[vs.Name].labels...)
		}
		return nil
	})
	for _, l := range a.Grouping {
		if !slices.Contains(have, l) {
			c.fail(where, fmt.Sprintf("%s groups by %s, which no series under it has", a.Op, l))
		}
	}
}

// quantile checks histogram_quantile's series: a histogram's buckets,
// with le kept by every aggregation on the way (without it the quantile
// is of nothing).
func (c *queryCheck) quantile(where string, arg parser.Expr) {
	parser.Inspect(arg, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			if !strings.HasSuffix(n.Name, "_bucket") {
				c.fail(where, fmt.Sprintf("histogram_quantile of %s, want a histogram's _bucket series", n.Name))
			}
		case *parser.AggregateExpr:
			if slices.Contains(n.Grouping, "le") == n.Without {
				c.fail(where, fmt.Sprintf("histogram_quantile over %s that does not keep le", n.Op))
			}
		}
		return nil
	})
}
