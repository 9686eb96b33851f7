package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/odata/server"
)

func (a *api) traffic(c *gin.Context) {
	series, err := a.m.Traffic(c.Request.Context(), c.Param("name"))
	if errors.Is(err, registry.ErrNotFound) {
		fail(c, http.StatusNotFound, "NotFound", "", "no source named "+c.Param("name")+" is served here")
		return
	}
	if err != nil {
		a.failWith(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"step_seconds": server.TrafficStep.Seconds(), "span_seconds": server.TrafficSpan.Seconds(), "series": series})
}

func (a *api) audit(c *gin.Context) {
	limit := 200
	if l, err := strconv.Atoi(c.Query("limit")); err == nil && l > 0 && l <= 1000 {
		limit = l
	}
	event := c.Query("event")
	if event != "" && event != "write" && event != "auth_failure" {
		fail(c, http.StatusBadRequest, "InvalidValue", "event", "event is write or auth_failure")
		return
	}
	c.JSON(http.StatusOK, gin.H{"records": a.m.Audit(c.Request.Context(), c.Query("source"), c.Query("user"), event, limit)})
}

func (a *api) salesforcePackage(c *gin.Context) {
	name := c.Param("name")
	zip, err := a.m.SalesforcePackage(c.Request.Context(), name)
	if errors.Is(err, registry.ErrNotFound) {
		fail(c, http.StatusNotFound, "NotFound", "", "no source named "+name)
		return
	}
	if err != nil {
		a.failWith(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="odatagw_`+salesforce.DeveloperName(name)+`.zip"`)
	c.Data(http.StatusOK, "application/zip", zip)
}
