package admin

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/admin/registry"
)

// The admin API's services: several sources under one service root.

func (a *api) services(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"services": a.m.Services(c.Request.Context())})
	return nil
}

func (a *api) getService(c *gin.Context) error {
	for _, s := range a.m.Services(c.Request.Context()) {
		if s.Name == c.Param("name") {
			c.Header("ETag", etag(s.Version))
			c.JSON(http.StatusOK, s)
			return nil
		}
	}
	return registry.ErrNoService
}

// readService reads a service's settings from the body: the
// configuration file's services section as JSON, with its name.
func readService(c *gin.Context) (registry.Service, error) {
	var svc registry.Service
	if err := jsonDecoder(c).Decode(&svc); err != nil {
		return svc, refuse(errBadRequest, jsonField(err), "the body is not a service: "+err.Error())
	}
	svc.Version, svc.UpdatedAt = 0, time.Time{}
	return svc, nil
}

func (a *api) createService(c *gin.Context) error {
	svc, err := readService(c)
	if err != nil {
		return err
	}
	st, err := a.m.CreateService(c.Request.Context(), svc)
	if err != nil {
		return err
	}
	a.log.Info("service added", "service", st.Name, "sources", len(st.Sources), "client", a.client(c))
	c.Header("ETag", etag(st.Version))
	c.Header("Location", "/api/services/"+st.Name)
	c.JSON(http.StatusCreated, st)
	return nil
}

func (a *api) updateService(c *gin.Context) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	svc, err := readService(c)
	if err != nil {
		return err
	}
	if svc.Name != "" && svc.Name != c.Param("name") {
		return refuse(errInvalidSource, "name", "a service cannot be renamed: add one under the new name and remove this one")
	}
	svc.Name = c.Param("name")
	st, err := a.m.UpdateService(c.Request.Context(), svc, version)
	if err != nil {
		return err
	}
	a.log.Info("service changed", "service", st.Name, "client", a.client(c))
	c.Header("ETag", etag(st.Version))
	c.JSON(http.StatusOK, st)
	return nil
}

func (a *api) deleteService(c *gin.Context) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := a.m.DeleteService(c.Request.Context(), c.Param("name"), version); err != nil {
		return err
	}
	a.log.Info("service removed", "service", c.Param("name"), "client", a.client(c))
	c.Status(http.StatusNoContent)
	return nil
}
