package admin

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// ErrNoShape is a shape the table does not hold (any more).
var ErrNoShape = errors.New("no such shape")

// ErrNoStatement is a plan asked for a shape that runs no statement.
var ErrNoStatement = errors.New("the source has no statement to explain for this shape (a record page, a write, a refused request, or a source without SQL)")

// ShapeDetail is one request shape: its figures, the statement with
// placeholders, the index that would serve it, and the plan when asked.
type ShapeDetail struct {
	shapes.Detail
	Advice      []metadata.IndexAdvice `json:"advice"`
	Explanation *sources.Explanation   `json:"explanation,omitempty"`
	// CountExplanation is the plan of the count that runs beside the
	// page, for a shape with $count=true; CountedBy says how the count is
	// made ("": a statement that reads the rows; "tracking", "estimate",
	// "auto"), CountAdvice what would spare a count that reads them all.
	CountExplanation *sources.Explanation `json:"count_explanation,omitempty"`
	CountedBy        string               `json:"counted_by,omitempty"`
	CountAdvice      string               `json:"count_advice,omitempty"`
}

// RankedAdvice is an index the traffic needs, with the database time in
// the last 24 hours of the shapes it would serve; FromTraffic false is
// the schema's advice for a table no traffic reached yet.
type RankedAdvice struct {
	metadata.IndexAdvice
	FromTraffic bool     `json:"from_traffic"`
	DBMS        float64  `json:"db_ms_24h"`
	Calls       int64    `json:"calls_24h"`
	Shapes      []string `json:"shapes,omitempty"`
}

func (a *api) indexAdvice(c *gin.Context) error {
	list, err := a.m.IndexAdvice(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"indexes": list})
	return nil
}

// CalloutReport is a source's callouts against the org's hourly limit.
type CalloutReport struct {
	shapes.Callouts
	Limit            int      `json:"limit"`
	Percent          float64  `json:"percent"`
	ProjectedPercent float64  `json:"projected_percent"`
	Savings          []string `json:"savings"`
}

func (a *api) shapes(c *gin.Context) error {
	list, err := a.m.Shapes(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"shapes": list})
	return nil
}

func (a *api) shape(c *gin.Context) error {
	explain := c.Query("explain")
	if explain != "" && explain != "plan" && explain != "analyze" {
		return refuse(errInvalidValue, "explain", "explain is plan or analyze")
	}
	d, err := a.m.Shape(c.Request.Context(), c.Param("name"), c.Param("shape"), explain)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

func (a *api) sampleShape(c *gin.Context) error {
	var body struct {
		On bool `json:"on"`
	}
	if err := c.ShouldBindJSON(&body); err != nil {
		return refuse(errBadRequest, "", `the body is JSON: {"on": true}`)
	}
	err := a.m.SampleShape(c.Request.Context(), c.Param("name"), c.Param("shape"), body.On)
	if err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (a *api) callouts(c *gin.Context) error {
	r, err := a.m.Callouts(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, r)
	return nil
}
