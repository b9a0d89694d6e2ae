package statuspage

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/gorilla/mux"
)

// serveQR answers a QR code (SVG or PNG) of a page's or a link's public URL,
// for printing on flyers and packaging.
func (s *Server) serveQR(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	p, ok := s.opts.Catalog().Page(vars["page"])
	target := s.opts.URL + "/" + vars["page"]
	if ok && vars["link"] != "" {
		_, ok = p.Link(vars["link"])
		target += "/" + vars["link"]
	}
	if !ok {
		http.Error(w, "no such page or link", http.StatusNotFound)
		return
	}
	code, err := qr.Encode(target, qr.M, qr.Auto)
	if err != nil {
		s.fail(w, r, fmt.Errorf("encode QR code: %w", err))
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	if vars["ext"] == "png" {
		scaled, err := barcode.Scale(code, code.Bounds().Dx()*8, code.Bounds().Dy()*8)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, scaled); err != nil {
			s.fail(w, r, err)
			return
		}
		h.Set("Content-Type", "image/png")
		s.write(w, r, http.StatusOK, buf.Bytes())
		return
	}
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	s.write(w, r, http.StatusOK, []byte(qrSVG(code, target)))
}

// qrSVG draws the code's dark modules as one path, with a 4-module quiet zone.
func qrSVG(code barcode.Barcode, label string) string {
	n := code.Bounds().Dx()
	var path strings.Builder
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r == 0 {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	size := n + 8
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="QR code for %s"><title>QR code for %s</title><rect width="100%%" height="100%%" fill="#fff"/><path d="%s" fill="#000"/></svg>`,
		size, size, size*8, size*8, xmlEscape(label), xmlEscape(label), path.String())
}
