package feed

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ensureKV opens a KV bucket, creating it with cfg if it does not exist
// (an existing bucket is used as it is).
func ensureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("look up bucket %s (is JetStream enabled on the server?): %w", cfg.Bucket, err)
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, cfg.Bucket) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// eachValue calls fn with every current value of a bucket (no deletes),
// then returns; fn's error stops it. It reads them all in one consumer,
// not one request per key.
func eachValue(ctx context.Context, kv jetstream.KeyValue, fn func(jetstream.KeyValueEntry) error) error {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	n := 0
	for {
		select {
		case e, open := <-w.Updates():
			if !open {
				return fmt.Errorf("watcher closed after %d values", n)
			}
			if e == nil { // every current value has been delivered
				return nil
			}
			n++
			if err := fn(e); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("%w (read %d values)", ctx.Err(), n)
		}
	}
}
