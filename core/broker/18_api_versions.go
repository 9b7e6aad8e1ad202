package broker

// ApiVersions, versions 0-4.
//
// v0 answers the key ranges; v1 adds the throttle; v3 (flexible) adds the
// client software name and version, which Chronik accepts and ignores.
// A request above v4 never gets here: ParseRequest answers it in v0 with
// UNSUPPORTED_VERSION so the client can retry with a version we speak.
// The control plane's APIs are listed on the control listener only
// (listener.go).

import "github.com/twmb/franz-go/pkg/kmsg"

const apiKeyApiVersions = 18

func init() { registerAPI(apiKeyApiVersions, 0, 4, handleApiVersions) }

func handleApiVersions(b *Broker, nowMs int64, req *Request) error {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = AdvertisedAPIs(req.Listener) // listener.go
	if req.Msg.GetVersion() >= 3 {
		// group.version 1: KIP-848 consumer groups (ConsumerGroupHeartbeat)
		// are served; clients such as Kafka's own check this feature.
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = "group.version", 0, 1
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "group.version", 1, 1
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = 1
	}
	b.reply(req, resp)
	return nil
}
