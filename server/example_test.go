package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
)

// Mounting the OFREP handler in an application's own mux.
func Example() {
	m, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	st := store.New(rdb)
	ctx := context.Background()
	f, err := evaluator.ParseFlag([]byte(`{"defaultEnabled":true,
		"environments":{"production":{"enabled":true,"rolloutPercent":100}}}`), "new-checkout")
	if err != nil {
		panic(err)
	}
	if _, err := st.Upsert(ctx, f); err != nil {
		panic(err)
	}

	srv := server.New(rdb, st)
	if err := srv.Start(ctx); err != nil {
		panic(err)
	}
	defer srv.Shutdown(ctx)
	for !srv.Loaded() {
		time.Sleep(time.Millisecond)
	}

	mux := http.NewServeMux()
	mux.Handle("/ofrep/", srv.OFREP())
	app := httptest.NewServer(mux)
	defer app.Close()

	resp, err := http.Post(app.URL+"/ofrep/v1/evaluate/flags/new-checkout", "application/json",
		strings.NewReader(`{"context":{"targetingKey":"user-1"}}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"value":true`))
	// Output: 200 true
}
