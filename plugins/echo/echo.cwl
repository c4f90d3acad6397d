{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "echo"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "Returns its inputs: writes them to echo.json and stdout, and copies the file input.",
  "id": "echo",
  "inputs": {
    "booleanInput": {
      "default": false,
      "doc": "a flag",
      "inputBinding": {
        "prefix": "--booleanInput"
      },
      "type": "boolean"
    },
    "doubleInput": {
      "doc": "any number",
      "inputBinding": {
        "prefix": "--doubleInput",
        "separate": true
      },
      "type": "double?"
    },
    "fileInput": {
      "doc": "any file, copied to the output",
      "inputBinding": {
        "prefix": "--fileInput",
        "separate": true
      },
      "type": "File?"
    },
    "integerInput": {
      "doc": "any integer",
      "inputBinding": {
        "prefix": "--integerInput",
        "separate": true
      },
      "type": "long?"
    },
    "stringInput": {
      "doc": "any text",
      "inputBinding": {
        "prefix": "--stringInput",
        "separate": true
      },
      "type": "string?"
    }
  },
  "label": "Echo",
  "outputs": {
    "echo": {
      "doc": "the inputs as JSON",
      "outputBinding": {
        "glob": "echo.json"
      },
      "type": "File"
    },
    "files": {
      "doc": "the copied file input, if any",
      "outputBinding": {
        "glob": "copy-*"
      },
      "type": "File[]"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "echo.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
