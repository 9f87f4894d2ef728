package main

// protojson rendering of what istiod pushes, for `meshfed-istio xds` (xds.go): Any values are
// expanded through the registry; one this binary cannot decode is kept as {"@type", "value"}.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	// Register every protobuf type istiod puts into typed_config Anys, so protojson can expand them:
	// pkg/config/xds imports all of go-control-plane's extensions (and contrib), and the config
	// generator imports the Istio-specific ones (istio.io/api/envoy/...) it emits.
	_ "istio.io/istio/pilot/pkg/networking/core"
	_ "istio.io/istio/pkg/config/xds"
)

// protoJSON renders m with protojson's default options. Any values are expanded through the global
// registry; should one hold a type this binary does not know, the resource is rendered anyway, that
// Any (and only it) as {"@type": URL, "value": BASE64 of its bytes}.
func protoJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.Marshal(m)
	if err == nil {
		return b, nil
	}
	clone := proto.Clone(m)
	opaque := map[string]opaqueAny{}
	if _, werr := markOpaqueAnys(clone.ProtoReflect(), opaque); werr != nil || len(opaque) == 0 {
		return nil, err // not an Any resolution problem
	}
	b, err = protojson.MarshalOptions{Resolver: opaqueResolver{protoregistry.GlobalTypes}}.Marshal(clone)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(restoreOpaqueAnys(v, opaque))
}

// opaqueAny is an Any whose type is unknown to this binary.
type opaqueAny struct{ typeURL, value string }

// opaqueURLPrefix marks, in the clone being rendered, an Any of unknown type; opaqueResolver maps
// it to an empty message so protojson writes just {"@type": MARKER}, which restoreOpaqueAnys then
// replaces.
const opaqueURLPrefix = "meshfed.invalid/opaque/"

// markOpaqueAnys walks m and renames the type of every Any that cannot be resolved to a unique
// opaqueURLPrefix marker, recording the original. Resolvable Anys are unpacked and walked too (and
// repacked if something inside them was marked). Reports whether m was changed.
func markOpaqueAnys(m protoreflect.Message, opaque map[string]opaqueAny) (bool, error) {
	changed := false
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		fields := m.Descriptor().Fields()
		urlField, valueField := fields.ByName("type_url"), fields.ByName("value")
		url, value := m.Get(urlField).String(), m.Get(valueField).Bytes()
		mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
		var inner protoreflect.Message
		if err == nil {
			inner = mt.New()
			err = proto.Unmarshal(value, inner.Interface())
		}
		if err != nil {
			marker := fmt.Sprintf("%s%d", opaqueURLPrefix, len(opaque))
			opaque[marker] = opaqueAny{typeURL: url, value: base64.StdEncoding.EncodeToString(value)}
			m.Set(urlField, protoreflect.ValueOfString(marker))
			return true, nil
		}
		innerChanged, err := markOpaqueAnys(inner, opaque)
		if err != nil || !innerChanged {
			return false, err
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(inner.Interface())
		if err != nil {
			return false, err
		}
		m.Set(valueField, protoreflect.ValueOfBytes(b))
		return true, nil
	}
	var walkErr error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		visit := func(sub protoreflect.Message) {
			c, err := markOpaqueAnys(sub, opaque)
			changed = changed || c
			if err != nil && walkErr == nil {
				walkErr = err
			}
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					visit(mv.Message())
					return walkErr == nil
				})
			}
		case fd.IsList():
			if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
				for i := 0; i < v.List().Len(); i++ {
					visit(v.List().Get(i).Message())
				}
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			visit(v.Message())
		}
		return walkErr == nil
	})
	return changed, walkErr
}

// opaqueResolver is the global registry plus an empty message type for the opaque markers.
type opaqueResolver struct{ *protoregistry.Types }

func (r opaqueResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if strings.HasPrefix(url, opaqueURLPrefix) {
		return opaqueMessageType()
	}
	return r.Types.FindMessageByURL(url)
}

// opaqueMessageType is a message type with no fields (meshfed.Opaque), built at run time.
var opaqueMessageType = sync.OnceValues(func() (protoreflect.MessageType, error) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("meshfed/opaque.proto"),
		Package:     proto.String("meshfed"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Opaque")}},
	}
	fd, err := protodesc.NewFile(fdp, new(protoregistry.Files))
	if err != nil {
		return nil, errors.New("building the opaque message type: " + err.Error())
	}
	return dynamicpb.NewMessageType(fd.Messages().Get(0)), nil
})

// restoreOpaqueAnys replaces every {"@type": MARKER} object in decoded JSON by the original
// type URL and the base64 bytes.
func restoreOpaqueAnys(v any, opaque map[string]opaqueAny) any {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["@type"].(string); ok {
			if o, ok := opaque[t]; ok {
				return map[string]any{"@type": o.typeURL, "value": o.value}
			}
		}
		for k, e := range x {
			x[k] = restoreOpaqueAnys(e, opaque)
		}
	case []any:
		for i, e := range x {
			x[i] = restoreOpaqueAnys(e, opaque)
		}
	}
	return v
}
