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

func (a *api) traffic(c *gin.Context) error {
	series, err := a.m.Traffic(c.Request.Context(), c.Param("name"))
	if errors.Is(err, registry.ErrNotFound) {
		return refuse(errNotFound, "", "no source named "+c.Param("name")+" is served here")
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"step_seconds": activity.Step.Seconds(), "span_seconds": activity.Span.Seconds(), "series": series})
	return nil
}

func (a *api) audit(c *gin.Context) error {
	limit := 200
	if l, err := strconv.Atoi(c.Query("limit")); err == nil && l > 0 && l <= 1000 {
		limit = l
	}
	event := c.Query("event")
	if event != "" && event != "write" && event != "auth_failure" {
		return refuse(errInvalidValue, "event", "event is write or auth_failure")
	}
	c.JSON(http.StatusOK, gin.H{"records": a.m.Audit(c.Request.Context(), c.Query("source"), c.Query("user"), event, limit)})
	return nil
}

// form reads the package's choices from the query: odata=4.0|4.01,
// credential=legacy.
func form(c *gin.Context) salesforce.Form {
	return salesforce.Form{ODataVersion: c.Query("odata"), LegacyCredential: c.Query("credential") == "legacy"}
}

func (a *api) salesforcePackage(c *gin.Context) error {
	name := c.Param("name")
	b, err := a.m.SalesforcePackage(c.Request.Context(), name, form(c))
	if err != nil {
		return err
	}
	zip, err := b.Zip()
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="odatagw_`+salesforce.DeveloperName(name)+`.zip"`)
	c.Data(http.StatusOK, "application/zip", zip)
	return nil
}

// maxRetrieved bounds an uploaded retrieved metadata zip.
const maxRetrieved = 32 << 20

// salesforceDiff compares the package with an uploaded zip of a metadata
// directory retrieved from the org.
func (a *api) salesforceDiff(c *gin.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxRetrieved+1))
	if err != nil {
		return refuse(errBadRequest, "file", "the upload could not be read")
	}
	if len(body) > maxRetrieved {
		return refuse(errTooLarge, "file", fmt.Sprintf("the zip is over %d MiB: retrieve only ExternalDataSource and CustomObject", maxRetrieved>>20))
	}
	d, err := a.m.SalesforceDiff(c.Request.Context(), c.Param("name"), body, form(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}
