package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/cache"
)

// metrics reports the gateway's figures in the Prometheus text format:
// query cache hits, misses, stale answers and evictions per source and
// set, and bytes in use per source.
func (s *Server) metrics(c *gin.Context) {
	var b strings.Builder
	b.WriteString("# HELP odatagw_cache_requests_total Answers the query cache gave, by result.\n")
	b.WriteString("# TYPE odatagw_cache_requests_total counter\n")
	var evictLines, bytesLines []string
	for _, name := range s.SourceNames() {
		src, _ := s.Source(name)
		cs, ok := src.(*cache.Source)
		if !ok {
			continue
		}
		sets := cs.SetNames()
		sort.Strings(sets)
		for _, set := range sets {
			st := cs.Stats(set)
			for _, kv := range []struct {
				result string
				n      int64
			}{{"hit", st.Hits.Load()}, {"miss", st.Misses.Load()}, {"stale", st.Stale.Load()}} {
				fmt.Fprintf(&b, "odatagw_cache_requests_total{source=%q,set=%q,result=%q} %d\n", name, set, kv.result, kv.n)
			}
		}
		for _, set := range sets {
			evictLines = append(evictLines, fmt.Sprintf("odatagw_cache_evictions_total{source=%q,set=%q} %d\n", name, set, cs.Stats(set).Evictions.Load()))
		}
		bytesLines = append(bytesLines, fmt.Sprintf("odatagw_cache_bytes{source=%q} %d\n", name, cs.Bytes()))
	}
	b.WriteString("# HELP odatagw_cache_evictions_total Entries dropped to keep the cache within its bound.\n# TYPE odatagw_cache_evictions_total counter\n")
	for _, l := range evictLines {
		b.WriteString(l)
	}
	b.WriteString("# HELP odatagw_cache_bytes Bytes held by a source's query cache.\n# TYPE odatagw_cache_bytes gauge\n")
	for _, l := range bytesLines {
		b.WriteString(l)
	}
	c.Data(http.StatusOK, "text/plain; version=0.0.4", []byte(b.String()))
}
