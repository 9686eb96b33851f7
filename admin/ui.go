package admin

import (
	"embed"
	"mime"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

// The admin page is plain HTML, CSS and JavaScript embedded in the binary:
// nothing is fetched from elsewhere and nothing needs building.
//
//go:embed ui
var ui embed.FS

func page(c *gin.Context) {
	b, err := ui.ReadFile("ui/index.html")
	if err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
}

func asset(c *gin.Context) {
	name := path.Clean("ui/" + c.Param("file"))
	b, err := ui.ReadFile(name)
	if err != nil || name == "ui/index.html" {
		fail(c, errNotFound, "", "no such file")
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Data(http.StatusOK, ct, b)
}
