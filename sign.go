package linkwatch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// Sign returns the base64 HMAC-SHA256 of "id.timestamp.body" with key: the
// one signing rule, for webhook deliveries (the Standard Webhooks
// signature) and the links of status page mails (EmailToken).
func Sign(key []byte, id, timestamp string, body []byte) string {
	return base64.StdEncoding.EncodeToString(MAC(key, id, timestamp, body))
}

// MAC is Sign's HMAC-SHA256 of "id.timestamp.body", unencoded.
func MAC(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
