// An outside check of the gateway's ledger contract, written only against Go's golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog (Debian golang-golang-x-mod-dev): it fetches the served checkpoint and its verifier
// key, opens the note, reads the C2SP tlog-checkpoint body, fetches a receipt for one entry at that tree size and
// checks its inclusion proof against the note's root hash.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o verify-checkpoint verify_checkpoint.go
//	./verify-checkpoint <gateway base URL> <bearer token> <entry id>
//
// Prints one JSON line; exit 0 only if everything verified.
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func get(url, token string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", url, res.StatusCode, body)
	}
	return body, nil
}

func fail(format string, args ...interface{}) {
	out, _ := json.Marshal(map[string]interface{}{"ok": false, "error": fmt.Sprintf(format, args...)})
	fmt.Println(string(out))
	os.Exit(1)
}

type receipt struct {
	Sealed         bool     `json:"sealed"`
	LeafIndex      int64    `json:"leafIndex"`
	TreeSize       int64    `json:"treeSize"`
	RootHash       string   `json:"rootHash"`
	EntryHash      string   `json:"entryHash"`
	InclusionProof []string `json:"inclusionProof"`
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: verify-checkpoint <base URL> <token> <entry id>")
	}
	base, token, entryID := strings.TrimRight(os.Args[1], "/"), os.Args[2], os.Args[3]

	vkey, err := get(base+"/v1/audit/checkpoint/key", "")
	if err != nil {
		fail("%v", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fail("the verifier key is not a Go note verifier key: %v", err)
	}
	msg, err := get(base+"/v1/audit/checkpoint", "")
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail("the checkpoint body has %d lines, not at least 3", len(lines))
	}
	origin := lines[0]
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 1 {
		fail("bad tree size line %q", lines[1])
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("bad root hash line %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)

	body, err := get(fmt.Sprintf("%s/v1/audit/entries/%s/proof?treeSize=%d", base, entryID, size), token)
	if err != nil {
		fail("%v", err)
	}
	var r receipt
	if err := json.Unmarshal(body, &r); err != nil {
		fail("the receipt is not JSON: %v", err)
	}
	if !r.Sealed || r.TreeSize != size {
		fail("the receipt is for tree size %d (sealed %v), not %d", r.TreeSize, r.Sealed, size)
	}
	if r.RootHash != hex.EncodeToString(root[:]) {
		fail("the receipt's rootHash %s is not the note's %s", r.RootHash, hex.EncodeToString(root[:]))
	}
	leafData, err := hex.DecodeString(r.EntryHash)
	if err != nil || len(leafData) != 32 {
		fail("bad entryHash %q", r.EntryHash)
	}
	proof := make(tlog.RecordProof, len(r.InclusionProof))
	for i, h := range r.InclusionProof {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			fail("bad proof hash %q", h)
		}
		copy(proof[i][:], b)
	}
	if err := tlog.CheckRecord(proof, size, root, r.LeafIndex, tlog.RecordHash(leafData)); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}
	out, _ := json.Marshal(map[string]interface{}{
		"ok": true, "origin": origin, "treeSize": size, "signer": n.Sigs[0].Name,
		"unverifiedSignatures": len(n.UnverifiedSigs), "leafIndex": r.LeafIndex,
	})
	fmt.Println(string(out))
}
