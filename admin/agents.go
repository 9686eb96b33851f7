package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/tunnel"
)

// AgentInfo is a registered agent, its tunnels connected to this gateway,
// and the sources that name it.
type AgentInfo struct {
	registry.Agent
	Tunnels []tunnel.AgentStatus `json:"tunnels"`
	Sources []string             `json:"sources"`
}

func (a *api) agents(c *gin.Context) error {
	list, err := a.m.Agents(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"agents": list})
	return nil
}

func (a *api) addAgent(c *gin.Context) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := c.ShouldBindJSON(&body); err != nil {
		return refuse(errBadRequest, "", "the body is JSON: {\"name\": \"plant-a\"}")
	}
	ag, token, err := a.m.AddAgent(c.Request.Context(), body.Name)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"agent": ag, "token": token})
	return nil
}

func (a *api) rotateAgent(c *gin.Context) error {
	ag, token, err := a.m.RotateAgent(c.Request.Context(), c.Param("agent"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"agent": ag, "token": token})
	return nil
}

func (a *api) removeAgent(c *gin.Context) error {
	if err := a.m.RemoveAgent(c.Request.Context(), c.Param("agent")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
