// Command apiclient starts the PBX simulator in-process, seeds three companies, and
// uses the API client the way pbxsync does: it reads the companies and their
// containers, writes a setting and reads back what the server kept.
//
//	go run ./examples/apiclient
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apiclient example:", err)
		os.Exit(1)
	}
}

const (
	adminKey = "quickstart-admin" // a System-Admin key, accepted by this simulator only
	soloKey  = "quickstart-solo"  // the key of solo_ltd's company administrator
	pin      = "4711"             // a night-mode PIN: a secret, never printed
)

func run(ctx context.Context, out io.Writer) error {
	sim := pbxtest.New(
		pbxtest.WithAPIKey(adminKey, pbxtest.SystemAdmin()),
		pbxtest.WithAPIKey(soloKey, pbxtest.CompanyAdmin("solo_ltd")),
		pbxtest.WithState(pbxtest.State{
			Companies: []apiclient.Company{
				{ID: "acme_hq", Name: "Acme HQ", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("US/Pacific"), "nm_password": apiclient.String(pin)})},
				{ID: "acme_west", Name: "Acme West", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("US/Pacific")})},
				{ID: "solo_ltd", Name: "Solo Ltd", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("Europe/London")})},
			},
			Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west"}},
		}),
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: sim}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "PBX simulator at %s\n\n", url)

	admin, err := apiclient.New(url, apiclient.WithAPIKey(adminKey))
	if err != nil {
		return err
	}

	// One read for every company, then one readContainer for each container.
	companies, err := admin.ReadAll(ctx)
	if err != nil {
		return err
	}
	containerOf := map[string]string{}
	for _, co := range companies {
		if containerOf[co.ID] != "" {
			continue // already seen as a member of an earlier container
		}
		box, err := admin.ReadContainer(ctx, co.ID)
		if err != nil {
			return err
		}
		for _, id := range box.MemberIDs() {
			containerOf[id] = fmt.Sprintf("%s (%s)", box.Name, strings.Join(box.MemberIDs(), ", "))
		}
	}
	fmt.Fprintf(out, "%-10s %-10s %-13s %-12s %s\n", "COMPANY", "NAME", "ZONE", "NM_PASSWORD", "CONTAINER")
	for _, co := range companies {
		fmt.Fprintf(out, "%-10s %-10s %-13s %-12s %s\n", co.ID, co.Name, co.Settings.Get("zone").Text(),
			apiclient.Display("nm_password", co.Settings.Get("nm_password")), containerOf[co.ID])
	}

	// A number written as 15 comes back as the server's string "15": one value.
	sent := apiclient.Int(15)
	after, err := admin.Update(ctx, "acme_west", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"q_ringtime": sent})})
	if err != nil {
		return err
	}
	kept := after.Settings.Get("q_ringtime")
	fmt.Fprintf(out, "\nupdate acme_west q_ringtime: sent %s, the server keeps %s, the same value: %t\n",
		sent.JSON(), kept.JSON(), apiclient.Equal("q_ringtime", sent, kept))

	// A company administrator may not set feature switches: the server says success
	// and keeps nothing. Reading back is the only way to know.
	solo, err := apiclient.New(url, apiclient.WithAPIKey(soloKey))
	if err != nil {
		return err
	}
	if _, err := solo.Update(ctx, "solo_ltd", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nocallrec": apiclient.Bool(true)})}); err != nil {
		return err
	}
	back, err := admin.Read(ctx, "solo_ltd")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "update solo_ltd nocallrec: true as its company administrator: the server answered success and keeps %s\n",
		back.Settings.Get("nocallrec").JSON())
	fmt.Fprintln(out, "\nThat is why pbxsync reads back and verifies everything it writes.")
	return nil
}
