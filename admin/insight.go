package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/odata/activity"
)

func (a *api) traffic(c *gin.Context) {
	series, err := a.m.Traffic(c.Request.Context(), c.Param("name"))
	if errors.Is(err, registry.ErrNotFound) {
		fail(c, errNotFound, "", "no source named "+c.Param("name")+" is served here")
		return
	}
	if err != nil {
		a.failWith(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"step_seconds": activity.Step.Seconds(), "span_seconds": activity.Span.Seconds(), "series": series})
}

func (a *api) audit(c *gin.Context) {
	limit := 200
	if l, err := strconv.Atoi(c.Query("limit")); err == nil && l > 0 && l <= 1000 {
		limit = l
	}
	event := c.Query("event")
	if event != "" && event != "write" && event != "auth_failure" {
		fail(c, errInvalidValue, "event", "event is write or auth_failure")
		return
	}
	c.JSON(http.StatusOK, gin.H{"records": a.m.Audit(c.Request.Context(), c.Query("source"), c.Query("user"), event, limit)})
}

// form reads the package's choices from the query: odata=4.0|4.01,
// credential=legacy.
func form(c *gin.Context) salesforce.Form {
	return salesforce.Form{ODataVersion: c.Query("odata"), LegacyCredential: c.Query("credential") == "legacy"}
}

func (a *api) salesforcePackage(c *gin.Context) {
	name := c.Param("name")
	b, err := a.m.SalesforcePackage(c.Request.Context(), name, form(c))
	if err != nil {
		a.failWith(c, err)
		return
	}
	zip, err := b.Zip()
	if err != nil {
		a.failWith(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="odatagw_`+salesforce.DeveloperName(name)+`.zip"`)
	c.Data(http.StatusOK, "application/zip", zip)
}

// maxRetrieved bounds an uploaded retrieved metadata zip.
const maxRetrieved = 32 << 20

// salesforceDiff compares the package with an uploaded zip of a metadata
// directory retrieved from the org.
func (a *api) salesforceDiff(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxRetrieved+1))
	if err != nil {
		fail(c, errBadRequest, "file", "the upload could not be read")
		return
	}
	if len(body) > maxRetrieved {
		fail(c, errTooLarge, "file", fmt.Sprintf("the zip is over %d MiB: retrieve only ExternalDataSource and CustomObject", maxRetrieved>>20))
		return
	}
	d, err := a.m.SalesforceDiff(c.Request.Context(), c.Param("name"), body, form(c))
	if err != nil {
		a.failWith(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}
