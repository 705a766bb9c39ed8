package chromiumtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// load opens a tab, records its console and network, navigates to u,
// waits for the load event and takes the DOM and a screenshot.
func (b *browser) load(u string, width, height int, o Options) (Page, error) {
	res, err := b.send("", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		return Page{}, err
	}
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := json.Unmarshal(res, &target); err != nil {
		return Page{}, err
	}
	if res, err = b.send("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}); err != nil {
		return Page{}, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(res, &attached); err != nil {
		return Page{}, err
	}
	s := attached.SessionID
	for _, m := range []string{"Page.enable", "Network.enable", "Log.enable", "Runtime.enable"} {
		if _, err := b.send(s, m, nil); err != nil {
			return Page{}, err
		}
	}
	if _, err := b.send(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}); err != nil {
		return Page{}, err
	}
	if _, err := b.send(s, "Emulation.setEmulatedMedia", map[string]any{"media": o.Media}); err != nil {
		return Page{}, err
	}
	b.events = nil
	if _, err := b.send(s, "Page.navigate", map[string]any{"url": u}); err != nil {
		return Page{}, err
	}
	if err := b.waitEvent(s, "Page.loadEventFired", 120*time.Second); err != nil {
		return Page{}, err
	}
	p := Page{URL: u}
	for _, e := range o.Evals {
		v, err := b.evalString(s, "String("+e+")")
		if err != nil {
			return Page{}, err
		}
		p.Evals = append(p.Evals, v)
	}
	if err := b.inspect(s, &p); err != nil {
		return Page{}, err
	}
	b.collect(s, &p)
	return p, nil
}

// inspect reads the DOM, title and load time, then takes the screenshot.
func (b *browser) inspect(s string, p *Page) error {
	var err error
	if p.DOM, err = b.evalString(s, "document.documentElement.outerHTML"); err != nil {
		return err
	}
	if p.Title, err = b.evalString(s, "document.title"); err != nil {
		return err
	}
	ms, err := b.evalString(s, "String(performance.getEntriesByType('navigation')[0].loadEventEnd)")
	if err != nil {
		return err
	}
	fmt.Sscan(ms, &p.LoadMillis) //nolint:errcheck // 0 when the browser gives none
	res, err := b.send(s, "Page.captureScreenshot", map[string]any{"format": "png"})
	if err != nil {
		return err
	}
	p.Screenshot, err = decodePNG(res)
	return err
}

func (b *browser) evalString(s, expr string) (string, error) {
	res, err := b.send(s, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return "", err
	}
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil {
		return "", fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	str, _ := r.Result.Value.(string)
	return str, nil
}

// collect turns the events of session s into console lines and requests.
func (b *browser) collect(s string, p *Page) {
	for _, e := range b.events {
		if e.SessionID != s {
			continue
		}
		var ev struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
			Entry struct {
				Level, Text, URL string
			} `json:"entry"`
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		json.Unmarshal(e.Params, &ev) //nolint:errcheck // fields absent stay empty
		switch e.Method {
		case "Network.requestWillBeSent":
			if ev.Request.URL != p.URL {
				p.Requests = append(p.Requests, ev.Request.URL)
			}
		case "Runtime.consoleAPICalled":
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, fmt.Sprint(a.Value)+a.Description)
			}
			p.Console = append(p.Console, ev.Type+": "+strings.Join(parts, " "))
		case "Log.entryAdded":
			p.Console = append(p.Console, ev.Entry.Level+": "+ev.Entry.Text+" "+ev.Entry.URL)
		case "Runtime.exceptionThrown":
			p.Console = append(p.Console, "exception: "+ev.ExceptionDetails.Text+" "+ev.ExceptionDetails.Exception.Description)
		}
	}
}
