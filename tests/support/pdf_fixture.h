#pragma once

// Minimal PDF files for tests: numbered objects with a correct cross-reference
// table (ISO 32000-1, 7.5), so poppler reads them without repair.

#include <cstdio>
#include <string>
#include <vector>

namespace kagami::testing {

// A whole PDF whose object i + 1 is objects[i]; object 1 must be the catalog.
// `header` is the file's first line(s), e.g. "%PDF-1.4\n" plus a binary marker.
inline std::string AssemblePdf(const std::vector<std::string>& objects,
                               const std::string& header = "%PDF-1.4\n") {
  std::string pdf = header;
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t offset : offsets) {
    char line[32];
    std::snprintf(line, sizeof(line), "%010zu 00000 n \n", offset);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

}  // namespace kagami::testing
