# expect: #/requirements/LoadListingRequirement/loadListing: loadListing must be no_listing, shallow_listing or deep_listing
cwlVersion: v1.2
class: CommandLineTool
requirements:
  LoadListingRequirement:
    loadListing: everything
baseCommand: ls
inputs: {}
outputs: {}
