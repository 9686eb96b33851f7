package admin

import (
	"errors"
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

func (a *api) agents(c *gin.Context) {
	list, err := a.m.Agents(c.Request.Context())
	if err != nil {
		a.failWith(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"agents": list})
}

func (a *api) addAgent(c *gin.Context) {
	var body struct {
		Name string `json:"name"`
	}
	if err := c.ShouldBindJSON(&body); err != nil {
		fail(c, errBadRequest, "", "the body is JSON: {\"name\": \"plant-a\"}")
		return
	}
	ag, token, err := a.m.AddAgent(c.Request.Context(), body.Name)
	if a.agentError(c, err) {
		return
	}
	c.JSON(http.StatusCreated, gin.H{"agent": ag, "token": token})
}

func (a *api) rotateAgent(c *gin.Context) {
	ag, token, err := a.m.RotateAgent(c.Request.Context(), c.Param("agent"))
	if a.agentError(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"agent": ag, "token": token})
}

func (a *api) removeAgent(c *gin.Context) {
	if a.agentError(c, a.m.RemoveAgent(c.Request.Context(), c.Param("agent"))) {
		return
	}
	c.Status(http.StatusNoContent)
}

// agentError answers an agent operation's error, if there is one.
func (a *api) agentError(c *gin.Context, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, registry.ErrNoAgent):
		fail(c, errNotFound, "", "no agent named "+c.Param("agent"))
	case errors.Is(err, registry.ErrAgentExists):
		fail(c, errExists, "name", "an agent of that name exists")
	default:
		a.failWith(c, err)
	}
	return true
}
