package linkwatch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// Causes lists every Cause declared in cause.go but CauseNone: a cause
// added there and not to the list would be refused by the admin API's
// filter and missing from the console's.
func TestCausesListsEveryCause(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "cause.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil || vs.Type.(*ast.Ident).Name != "Cause" {
			return true
		}
		for _, v := range vs.Values {
			s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
			if err != nil || s == "" {
				continue
			}
			declared++
			if !ValidCause(Cause(s)) {
				t.Errorf("cause %q is declared but not in Causes()", s)
			}
		}
		return true
	})
	if declared == 0 || declared != len(Causes()) {
		t.Errorf("%d causes declared, %d listed", declared, len(Causes()))
	}
	if ValidCause(CauseNone) || ValidCause("nope") {
		t.Error("ValidCause accepts what is no cause")
	}
}
