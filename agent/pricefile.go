package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
)

// LoadPrices reads a JSON price table from path and lays it over the
// built-in one: models in the file replace or add to the defaults.
//
//	{"source": "our contract, 2027-01",
//	 "models": {"gpt-realtime": {"text_in": 4, "text_cached": 0.4, "text_out": 16, "audio_in": 32, …}},
//	 "transcription": {"whisper-1": {"per_minute": 0.006}},
//	 "live": {"gpt-live-1": {"per_minute": 0.05, "standby_per_minute": 0.02, "minimum_seconds": 15, "source": "…"}}}
//
// The file is read strictly, since a mistake in it would misprice every
// call without a word: an unknown key, a price that is not a number ≥ 0,
// a model that is not an object or a second JSON value is an error naming
// the file, the model and the field.
func LoadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	fail := func(format string, args ...any) (*Prices, error) {
		return nil, fmt.Errorf("price table %s: "+format, append([]any{path}, args...)...)
	}
	var over struct {
		Source        string                     `json:"source"`
		Models        map[string]json.RawMessage `json:"models"`
		Transcription map[string]json.RawMessage `json:"transcription"`
		Live          map[string]json.RawMessage `json:"live"`
	}
	if err := decodeStrict(data, &over); err != nil {
		return fail(`%v (a price table has "source", "models", "transcription" and "live")`, err)
	}
	p := DefaultPrices()
	for _, m := range slices.Sorted(maps.Keys(over.Models)) {
		var pr Price
		if err := decodePrice(over.Models[m], &pr); err != nil {
			return fail("models: %q: %v", m, err)
		}
		p.Models[m] = pr
	}
	for _, m := range slices.Sorted(maps.Keys(over.Transcription)) {
		var pr TranscriptionPrice
		if err := decodePrice(over.Transcription[m], &pr); err != nil {
			return fail("transcription: %q: %v", m, err)
		}
		p.Transcription[m] = pr
	}
	for _, m := range slices.Sorted(maps.Keys(over.Live)) {
		var pr LivePrice
		if err := decodePrice(over.Live[m], &pr); err != nil {
			return fail("live: %q: %v", m, err)
		}
		p.Live[m] = pr
	}
	if over.Source != "" {
		p.Source = over.Source
	}
	return p, nil
}

// maxPrice bounds a price (USD per 1M tokens or per minute) far above
// any real one, so that no sum of costs can overflow.
const maxPrice = 1e6

// decodePrice reads one model's prices and refuses a price below 0 (or
// not a number).
func decodePrice[T Price | TranscriptionPrice | LivePrice](raw json.RawMessage, v *T) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return errors.New("want an object of prices, got null")
	}
	if err := decodeStrict(raw, v); err != nil {
		return err
	}
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		if rv.Field(i).Kind() != reflect.Float64 {
			continue // a source
		}
		if f := rv.Field(i).Float(); !(f >= 0 && f <= maxPrice) {
			name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
			return fmt.Errorf("%s is %v: want a price in USD from 0 to %g", name, f, maxPrice)
		}
	}
	return nil
}

// decodeStrict decodes exactly one JSON value with no unknown keys.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			want := "a " + typ.Type.String()
			switch typ.Type.Kind() {
			case reflect.Float64:
				want = "a number"
			case reflect.Map, reflect.Struct:
				want = "an object"
			}
			return fmt.Errorf("%s: want %s, got %s", typ.Field, want, typ.Value)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}
