// Internal to the spec library: how large a spec is once its YAML aliases are expanded,
// measured without expanding it.
//
// An alias (`*a`) names a value written once (`&a`); yaml-cpp shares that value, but every
// reader of the tree (the parser's copies, the model, the agent's containers) sees it once
// per alias. 274 KB of text can so stand for 750 MB. ExpansionLimits reads the YAML as a
// stream of events, records the expanded size of each anchored value when it ends and adds
// that size at every alias: memory stays proportional to the text, time to its length.
#pragma once

#include <string_view>

#include "agent/spec/yaml_reader.h"

namespace zlayer::spec::internal {

// Reports to `reader`, at the offending value's line:column and path, each of:
//   - a scalar (key or value) longer than kMaxValueBytes,
//   - a list with more than kMaxListItems items,
//   - an alias inside the value it names (the value would be infinite),
//   - the document expanding to more than kMaxExpandedBytes of scalar text or more than
//     kMaxExpandedValues values (reported once, where the limit is crossed; reading stops).
// The limits are in parser.h. Returns true when nothing was reported; otherwise the spec is
// refused for its size alone (its tree is not read for further problems).
// Malformed YAML throws YAML::Exception, as YAML::Load would; the caller reports it.
bool CheckExpansion(std::string_view yaml_text, Reader& reader);

}  // namespace zlayer::spec::internal
