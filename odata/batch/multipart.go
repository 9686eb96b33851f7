package batch

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
)

// multipart batch format (OData 4.0)

func parseMultipart(body []byte, boundary string) ([]Part, error) {
	if boundary == "" {
		return nil, errors.New("multipart/mixed needs a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []Part
	sets := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		mt, params, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if mt == "multipart/mixed" {
			sets++
			group := "changeset" + strconv.Itoa(sets)
			inner := multipart.NewReader(part, params["boundary"])
			for {
				ip, err := inner.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, err
				}
				bp, err := readHTTPPart(ip, len(parts))
				if err != nil {
					return nil, err
				}
				bp.Group = group
				parts = append(parts, bp)
			}
			continue
		}
		bp, err := readHTTPPart(part, len(parts))
		if err != nil {
			return nil, err
		}
		parts = append(parts, bp)
	}
}

// readHTTPPart reads an application/http part: request line, headers, body.
func readHTTPPart(part *multipart.Part, index int) (Part, error) {
	id := strings.TrimSpace(part.Header.Get("Content-ID"))
	if id == "" {
		id = "part" + strconv.Itoa(index+1)
	}
	br := bufio.NewReader(part)
	line, err := br.ReadString('\n')
	if err != nil && line == "" {
		return Part{}, fmt.Errorf("part %s has no request line", id)
	}
	method, target, err := parseRequestLine(line)
	if err != nil {
		return Part{}, fmt.Errorf("part %s: %v", id, err)
	}
	mh, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return Part{}, fmt.Errorf("part %s: %v", id, err)
	}
	body, _ := io.ReadAll(br)
	body = bytes.TrimRight(body, "\r\n")
	return Part{ID: id, Method: method, URL: target, Header: http.Header(mh), Body: body}, nil
}

// httpVersion ends a request line: " HTTP/1.1".
var httpVersion = regexp.MustCompile(` +HTTP/[0-9]+(\.[0-9]+)?$`)

// parseRequestLine reads a part's request line, METHOD URL HTTP/x.y. Some
// clients (@odata/client among them) put the URL in it as they would pass
// it to fetch, spaces unescaped ($orderby=id desc): everything between the
// method and the version is the URL (resolve reads its spaces as %20). Cutting at
// the first space instead would answer a different query ($orderby=id).
// A line with spaces in its URL and no version cannot be read for sure,
// so it is refused.
func parseRequestLine(line string) (method, target string, err error) {
	line = strings.TrimRight(line, "\r\n ")
	method, rest, ok := strings.Cut(strings.TrimLeft(line, " "), " ")
	if !ok || method == "" {
		return "", "", fmt.Errorf("malformed request line %q: it needs a method and a URL", line)
	}
	for _, c := range method {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return "", "", fmt.Errorf("malformed request line %q: %q is not a method", line, method)
		}
	}
	rest = " " + strings.TrimLeft(rest, " ")
	if loc := httpVersion.FindStringIndex(rest); loc != nil {
		rest = rest[:loc[0]]
	} else if strings.Contains(rest[1:], " ") {
		return "", "", fmt.Errorf("the request line %q has spaces in its URL and no HTTP version after it: end it with HTTP/1.1, or percent-encode the spaces as %%20", line)
	}
	rest = strings.Trim(rest, " ")
	if rest == "" {
		return "", "", fmt.Errorf("malformed request line %q: it needs a URL", line)
	}
	for _, c := range rest {
		if c < 0x20 || c == 0x7f {
			return "", "", fmt.Errorf("malformed request line %q: the URL holds a control character", line)
		}
	}
	return strings.ToUpper(method), rest, nil
}

// writeMultipart is the answer to a multipart batch, and its content type.
func writeMultipart(parts []Part, results []Result) (string, []byte) {
	var b bytes.Buffer
	boundary := "batchresponse_" + randomHex()
	mw := multipart.NewWriter(&b)
	mw.SetBoundary(boundary)
	for i := 0; i < len(results); {
		group := parts[i].Group
		j := i + 1
		for group != "" && j < len(results) && parts[j].Group == group {
			j++
		}
		if group == "" {
			writeHTTPPart(mw, results[i])
			i = j
			continue
		}
		// a failed change set answers with one response: the failure
		failed := -1
		for k := i; k < j; k++ {
			if results[k].Status >= 400 && results[k].Status != http.StatusFailedDependency {
				failed = k
			}
		}
		if failed >= 0 {
			writeHTTPPart(mw, results[failed])
			i = j
			continue
		}
		var cs bytes.Buffer
		cw := multipart.NewWriter(&cs)
		cw.SetBoundary("changesetresponse_" + randomHex())
		for k := i; k < j; k++ {
			writeHTTPPart(cw, results[k])
		}
		cw.Close()
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
		pw.Write(cs.Bytes())
		i = j
	}
	mw.Close()
	return "multipart/mixed; boundary=" + boundary, b.Bytes()
}

func writeHTTPPart(mw *multipart.Writer, res Result) {
	h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
	if !strings.HasPrefix(res.ID, "part") {
		h.Set("Content-ID", res.ID)
	}
	pw, _ := mw.CreatePart(h)
	fmt.Fprintf(pw, "HTTP/1.1 %d %s\r\n", res.Status, http.StatusText(res.Status))
	for _, k := range []string{"Content-Type", "Location", "OData-EntityId", "ETag", "Preference-Applied", "OData-Version"} {
		if v := res.Header.Get(k); v != "" {
			fmt.Fprintf(pw, "%s: %s\r\n", k, v)
		}
	}
	pw.Write([]byte("\r\n"))
	pw.Write(res.Body)
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
